#!/usr/bin/env bash
# kafka-jars.sh copies the Apache Kafka broker's runtime jars from Maven
# Central (cached in ~/.m2) into $ECSYNC_KAFKA_LIB (default
# ~/.cache/ecsync/kafka-<version>/lib).  Silent when they are already there.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/kafka/pom.xml
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
lib=${ECSYNC_KAFKA_LIB:-${XDG_CACHE_HOME:-$HOME/.cache}/ecsync/kafka-$version/lib}

if [ -f "$lib/.complete" ]; then
	echo "$lib"
	exit 0
fi
echo "kafka-jars: fetching Apache Kafka $version broker jars from Maven Central" >&2
rm -rf "$lib.tmp"
mkdir -p "$lib.tmp"
if ! mvn -B -q -Dstyle.color=never -f "$pom" \
	org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$lib.tmp" >"$lib.tmp.log" 2>&1; then
	tail -n 30 "$lib.tmp.log" >&2
	echo "kafka-jars: maven could not fetch the broker jars (see above)" >&2
	exit 1
fi
rm -f "$lib.tmp.log"
touch "$lib.tmp/.complete"
rm -rf "$lib"
mv "$lib.tmp" "$lib"
echo "$lib"
