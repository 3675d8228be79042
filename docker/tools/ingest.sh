#!/bin/sh
# ingest: ecsync-ingest writing the durable CSV archive into /archive (a
# volume): a snapshot of the shop at start, then the page views as they
# come.  The config file holds the MySQL password and is the ecsync user's
# alone (mode 0600); the password comes from the secret mysql_password.
set -eu
umask 077
conf=$HOME/ingest.conf
cat >"$conf" <<CONF
archive.dir = /archive
kafka.bootstrap.servers = kafka:9092
topic = page_views
mysql.host = mariadb
mysql.port = 3306
mysql.database = shop
mysql.user = ecsync
mysql.password = $(cat /run/secrets/mysql_password)
mysql.bigint-unsigned = bigint
CONF
if [ -z "$(ls -A /archive/_snapshots 2>/dev/null)" ]; then
	ecsync-ingest -c "$conf" --snapshot
fi
exec ecsync-ingest -c "$conf" --stream
