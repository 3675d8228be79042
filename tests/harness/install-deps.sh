#!/usr/bin/env bash
# install-deps.sh installs, from Debian's archive and Maven Central, whatever
# ecsync needs to build, test and run its local service stack, and nothing
# that is already there.  Silent when everything is present.
#
#   tests/harness/install-deps.sh            # apt packages, Kafka broker jars, MySQL 9 tree
#   tests/harness/install-deps.sh --apt      # apt packages only
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Build: compiler, PGXS, client libraries.  Run: the three real services,
# their clients and the tools the tests and benchmarks compare against;
# Docker (docker/ and its test group), tmux (the live view's test) and
# python3-venv (pg_chameleon, the cdc benchmark's anchor, from PyPI);
# debootstrap and Debian's keyring (the Debian sid tree with MySQL 9 for
# the mysql9 pass, tests/harness/mysql9.sh); Chromium, its driver and a
# CJK font (the bi group's browser; the shop's names are Japanese).
packages=(
	build-essential pkg-config
	postgresql-15 postgresql-client-15 postgresql-server-dev-15 postgresql-15-cron
	mariadb-server mariadb-client libmariadb-dev
	librdkafka-dev libjansson-dev zlib1g-dev libzstd-dev kcat gzip
	pgloader postgresql-15-mysql-fdw
	default-jre-headless maven
	procps iproute2 psmisc util-linux clang libclang-rt-14-dev valgrind openssl python3 python3-venv tmux
	docker.io docker-compose debootstrap iptables debian-archive-keyring
	chromium chromium-driver fonts-noto-cjk
)

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
	# a package counts as present only when dpkg says it is fully installed
	if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
		missing+=("$p")
	fi
done
# Java and Maven may come from outside Debian (e.g. a preinstalled JDK)
if command -v java >/dev/null && command -v mvn >/dev/null; then
	keep=()
	for p in "${missing[@]}"; do
		case $p in default-jre-headless|maven) ;; *) keep+=("$p") ;; esac
	done
	missing=("${keep[@]+"${keep[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}" >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# Packaged services must not start on their default ports: the harness
	# runs its own throwaway instances.  policy-rc.d is restored afterwards.
	prc=/usr/sbin/policy-rc.d
	saved=
	if [ -e $prc ]; then saved=$(mktemp); as_root cp -p $prc "$saved"; fi
	printf '#!/bin/sh\nexit 101\n' | as_root tee $prc >/dev/null
	as_root chmod 755 $prc
	rc=0
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/tmp/ecsync-apt.log 2>&1 || rc=$?
	if [ -n "$saved" ]; then as_root mv "$saved" $prc; else as_root rm -f $prc; fi
	if [ $rc -ne 0 ]; then
		echo "install-deps: apt-get install failed; last lines of /tmp/ecsync-apt.log:" >&2
		tail -n 20 /tmp/ecsync-apt.log >&2
		exit 1
	fi
fi

[ "${1:-}" = --apt ] && exit 0
"$here/kafka-jars.sh" >/dev/null
# Apache Superset for the bi group, once, into ~/.cache/ecsync/
"$here/superset.sh" install
# the mysql9 stack runs as root only (chroot); ECSYNC_MYSQL9=0 skips it
if [ "${ECSYNC_MYSQL9:-1}" != 0 ] && [ "$(id -u)" = 0 ]; then
	"$here/mysql9.sh" >/dev/null
fi
