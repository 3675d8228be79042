#!/usr/bin/env bash
# debezium.sh builds the cdc benchmark's Debezium anchor (tests/bench/debezium:
# Debezium 3.6.1's embedded engine and MySQL connector, pgJDBC) with Maven and
# prints the path of its runnable jar (java -jar PATH key=value ...; its
# manifest names the dependencies in lib/ beside it).  Everything lives under
# $ECSYNC_DEBEZIUM_CACHE (default ~/.cache/ecsync/debezium): the Maven
# repository (m2/, from Maven Central on the first build only; later builds
# run offline) and one build per version of the sources (build-<hash>/).
# Silent when the build of the current sources is there.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../bench/debezium" && pwd)
cache=${ECSYNC_DEBEZIUM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecsync/debezium}
hash=$(cd "$src" && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
out=$cache/build-$hash
jar=$out/debezium-apply-1.jar

if [ -f "$out/.complete" ] && [ -f "$jar" ]; then
	echo "$jar"
	exit 0
fi
mkdir -p "$cache"
rm -rf "$out.tmp"
log=$cache/build.log
mvn_build() {
	mvn -q -B -Dstyle.color=never "$@" -f "$src/pom.xml" \
		-Dmaven.repo.local="$cache/m2" -Ddbz.build="$out.tmp" package >"$log" 2>&1
}
# offline once the repository has everything a build needs
if [ -f "$cache/m2/.complete" ] && mvn_build -o; then
	:
else
	echo "debezium: building the Debezium anchor (Maven Central, into $cache/m2)" >&2
	rm -rf "$out.tmp"
	if ! mvn_build; then
		tail -n 30 "$log" >&2
		echo "debezium: maven could not build tests/bench/debezium (see above, $log)" >&2
		exit 1
	fi
	touch "$cache/m2/.complete"
fi
[ -f "$out.tmp/debezium-apply-1.jar" ] || { echo "debezium: the build made no jar (see $log)" >&2; exit 1; }
# only the jar and its dependencies are kept
rm -rf "$out.tmp/classes" "$out.tmp/generated-sources" "$out.tmp/maven-status" "$out.tmp/maven-archiver"
touch "$out.tmp/.complete"
rm -rf "$out"
mv "$out.tmp" "$out"
# earlier builds of other sources
find "$cache" -maxdepth 1 -name 'build-*' ! -name "build-$hash" -exec rm -rf {} +
echo "$jar"
