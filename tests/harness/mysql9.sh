#!/usr/bin/env bash
# mysql9.sh builds, once, a minimal Debian sid tree holding a real MySQL 9.x
# server and client (mysql-server-core, mysql-client-core) for the mysql9
# stack, and prints its path.  Debian 12 ships only MariaDB; sid's MySQL
# needs sid's C library, so it runs chrooted (stack.sh does that).  The tree
# is cached in $ECSYNC_MYSQL9_ROOT (default ~/.cache/ecsync/mysql9/root),
# like the Kafka jars are; when it is there this prints its path at once.
#
#   tests/harness/mysql9.sh            # build if missing, print the path
#   tests/harness/mysql9.sh --rebuild  # throw the cached tree away first
#
# Needs root (debootstrap, chroot), debootstrap and Debian's keyring
# (tests/harness/install-deps.sh) and Debian's archive.  The archive is the
# one this machine's apt uses; ECSYNC_DEBIAN_MIRROR overrides it.  From
# half a minute to a few minutes, depending on the archive; the tree takes
# about 500 MB (apt's cache and lists are emptied).
set -euo pipefail

cache=${XDG_CACHE_HOME:-$HOME/.cache}/ecsync/mysql9
root=${ECSYNC_MYSQL9_ROOT:-$cache/root}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

say() { echo "mysql9: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}
# elapsed T0 T1 prints T1 - T0 (seconds with fractions)
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

rebuild=0
case ${1:-} in
	"") ;;
	--rebuild) rebuild=1 ;;
	*) sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac

if [ $rebuild = 0 ] && [ -f "$root/.ecsync-complete" ]; then
	echo "$root"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "building the MySQL 9 tree needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap is missing; run tests/harness/install-deps.sh"
command -v unshare >/dev/null || die "unshare (util-linux) is missing; run tests/harness/install-deps.sh"
[ -r "$keyring" ] || die "$keyring is missing; run tests/harness/install-deps.sh"

mkdir -p "$(dirname "$root")"
# one build at a time: a second caller waits, then finds the tree built
exec 9>"$root.lock"
if ! flock -n 9; then
	say "another build of $root is running; waiting for it"
	flock 9
fi
if [ $rebuild = 0 ] && [ -f "$root/.ecsync-complete" ]; then
	echo "$root"
	exit 0
fi

# The archive this machine's apt already uses (the only one it may reach).
mirror=${ECSYNC_DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI)' 'Identifier: Packages' 2>/dev/null |
	grep -v -- '-security' | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

tmp=$root.tmp
log=$cache/build.log
t0=$(date +%s.%N)
rm -rf "$tmp"
: >"$log"
say "building a Debian sid tree with MySQL 9 in $root (a minute or a few; log in $log)"

# Each step runs in a mount namespace of its own: the /proc (and
# debootstrap's /sys) mounted inside the tree vanish with the step, even
# when it is killed, so no mount is ever left behind.
in_ns() {
	unshare --mount --propagation private -- "$@"
}

say "debootstrap --variant=minbase sid from $mirror"
if ! in_ns debootstrap --variant=minbase --keyring="$keyring" sid "$tmp" "$mirror" >>"$log" 2>&1; then
	tail -n 25 "$log" >&2
	die "debootstrap failed (see $log)"
fi
t1=$(date +%s.%N)

# apt inside the tree: the host's name resolution, no service started by a
# package, and sid's Release file may read as expired on a machine whose
# clock or snapshot lags
[ -s "$tmp/etc/resolv.conf" ] || cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod 755 "$tmp/usr/sbin/policy-rc.d"
cat >"$tmp/etc/apt/apt.conf.d/90ecsync" <<-'EOF'
	Acquire::Check-Valid-Until "false";
	APT::Install-Recommends "false";
EOF

say "apt-get install mysql-server-core mysql-client-core (inside the tree)"
# shellcheck disable=SC2016
if ! in_ns sh -ec 'mount -t proc proc "$1/proc"
	exec chroot "$1" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -ec "
		apt-get -q update
		apt-get -q install -y mysql-server-core mysql-client-core
		apt-get clean"' sh "$tmp" >>"$log" 2>&1; then
	tail -n 25 "$log" >&2
	die "installing MySQL in the sid tree failed (see $log)"
fi
rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin "$tmp"/var/log/apt/* "$tmp"/var/log/dpkg.log
t2=$(date +%s.%N)

# the server must start in the tree and be a 9.x
version=$(chroot "$tmp" /usr/sbin/mysqld --version 2>&1) ||
	die "mysqld does not run in the sid tree: $version"
[[ $version == *" 9."* ]] || die "sid's mysqld is not MySQL 9: $version"
echo "$version" >"$tmp/.ecsync-complete"
rm -rf "$root"
mv "$tmp" "$root"
say "$(printf 'built in %.0f s (debootstrap %.0f s, MySQL %.0f s), %s: %s' \
	"$(elapsed "$t0" "$t2")" "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" \
	"$(du -sh "$root" | cut -f1)" "$version")"
echo "$root"
