#!/bin/sh
# A single-node Apache Kafka broker in KRaft mode: formats its storage on
# the first start, then runs.  Clients on the compose network reach it as
# kafka:9092.
set -eu
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
	cluster=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | sed 's/^-/A/')
	java -cp '/opt/kafka/libs/*' kafka.tools.StorageTool format -t "$cluster" \
		-c /opt/kafka/config/server.properties >/dev/null
fi
exec java -Xms256m -Xmx${KAFKA_HEAP:-1g} -XX:+UseG1GC -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml \
	-cp '/opt/kafka/libs/*' kafka.Kafka /opt/kafka/config/server.properties
