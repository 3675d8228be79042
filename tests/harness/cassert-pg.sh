#!/usr/bin/env bash
# cassert-pg.sh builds, once, a PostgreSQL 15 with assertions
# (--enable-cassert: freed memory is clobbered with 0x7F, memory contexts
# are checked, Assert() is live) from Debian's own source package, puts
# Debian's pg_cron beside it, and prints the installation's bin directory.  The
# sources and the build tree are cached in ~/.cache/ecsync/; the
# installation has a prefix of its own that the postgres user can read
# (/opt/ecsync/... as root, the cache itself otherwise).  Silent when it is
# already there.
#
#   tests/harness/cassert-pg.sh          # build if needed, print <prefix>/bin
#
# Environment: ECSYNC_CASSERT_PREFIX chooses the prefix.
set -euo pipefail

cache=${XDG_CACHE_HOME:-$HOME/.cache}/ecsync
say() { echo "cassert-pg: $*" >&2; }
die() { say "$*"; exit 1; }

# The newest 15.x whose source the archive serves: the installed binary's
# own first (the security pool may not serve the source of its binary).
want=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)
upstream=${want%%-*}
[ -n "$upstream" ] || upstream=15
if [ "$(id -u)" = 0 ]; then
	prefix=${ECSYNC_CASSERT_PREFIX:-/opt/ecsync/pg15-cassert}
else
	prefix=${ECSYNC_CASSERT_PREFIX:-$cache/pg15-cassert}
fi

if [ -f "$prefix/.complete" ]; then
	echo "$prefix/bin"
	exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# a deb-src entry made from Debian's own deb entry, once
ensure_deb_src() {
	local f=/etc/apt/sources.list.d/ecsync-deb-src.sources
	[ -f "$f" ] && return 0
	[ -f /etc/apt/sources.list.d/debian.sources ] || die "no /etc/apt/sources.list.d/debian.sources to copy a deb-src entry from"
	sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | as_root tee "$f" >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
}

# fetch SRCPKG DIR downloads the newest version of SRCPKG the archive
# serves (trying each listed version, newest first) into DIR
fetch() {
	local pkg=$1 dir=$2 v
	mkdir -p "$dir"
	for v in $(apt-cache showsrc "$pkg" | sed -n 's/^Version: //p' | sort -rV); do
		if (cd "$dir" && apt-get source -qq --download-only "$pkg=$v" >/dev/null 2>&1); then
			echo "$v"
			return 0
		fi
		say "the archive does not serve $pkg $v; trying an older one"
	done
	return 1
}

mkdir -p "$cache/src"
ensure_deb_src
pg_src=$(ls -d "$cache"/src/postgresql-15-*/ 2>/dev/null | head -n 1 || true)
if [ -z "$pg_src" ] || [ ! -f "$pg_src/configure" ]; then
	say "fetching Debian's postgresql-15 source (about 25 MB)"
	rm -rf "$cache/src/dl-pg"
	v=$(fetch postgresql-15 "$cache/src/dl-pg") || die "no postgresql-15 source could be downloaded"
	up=${v%%-*}
	tar -xjf "$cache/src/dl-pg/postgresql-15_$up.orig.tar.bz2" -C "$cache/src"
	mv "$cache/src/postgresql-$up" "$cache/src/postgresql-15-$up"
	pg_src=$cache/src/postgresql-15-$up/
	rm -rf "$cache/src/dl-pg"
fi
pg_src=${pg_src%/}
say "building $(basename "$pg_src") with --enable-cassert into $prefix (a few minutes, once)"
log=$cache/src/pg-build.log
(
	cd "$pg_src"
	if [ ! -f config.status ] || ! grep -q -- "--prefix=$prefix" config.status; then
		./configure --prefix="$prefix" --enable-cassert --enable-debug \
			--without-readline --without-icu
		make clean
	fi
	make -j"$(nproc)" -s
	make -s install
) >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "the PostgreSQL build failed (log: $log)"; }

# pg_cron: Debian's archive lists its source but does not serve it, so the
# cassert server loads Debian's own pg_cron build (postgresql-15-cron, made
# for the same major version; its module magic says so).  pg_cron is not
# under test there, ecsync is: only ecsync's C must be built with the
# assertions on.
pkglib=$("$prefix/bin/pg_config" --pkglibdir)
share=$("$prefix/bin/pg_config" --sharedir)
[ -f /usr/lib/postgresql/15/lib/pg_cron.so ] || die "postgresql-15-cron is not installed (run tests/harness/install-deps.sh)"
install -m 755 /usr/lib/postgresql/15/lib/pg_cron.so "$pkglib/"
install -m 644 /usr/share/postgresql/15/extension/pg_cron* "$share/extension/"

grep -q '#define USE_ASSERT_CHECKING 1' "$("$prefix/bin/pg_config" --includedir-server)/pg_config.h" ||
	die "the build in $prefix has no assertions"
touch "$prefix/.complete"
say "ready: $prefix"
echo "$prefix/bin"
