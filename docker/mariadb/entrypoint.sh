#!/bin/sh
# MariaDB with the sample shop.  On the first start (an empty data
# directory): the system tables, the shop generated at scale $SHOP_SCALE
# and bulk-loaded into database "shop", and the read-only user "ecsync"
# whose password is the secret mysql_password.  Then the server, on the
# network.  Runs as the mysql OS user (who administers over the socket, as
# the health check does).
set -eu
datadir=/var/lib/mysql
sock=/run/mysqld/mysqld.sock
secret=/run/secrets/mysql_password
scale=${SHOP_SCALE:-0.05}
say() { echo "mariadb-entrypoint: $*"; }

if [ ! -d "$datadir/mysql" ]; then
	[ -r "$secret" ] || { say "the secret mysql_password is missing (run docker/make-secrets.sh)"; exit 1; }
	say "first start: system tables"
	mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=socket --auth-root-socket-user=mysql \
		--skip-test-db >/dev/null
	# (on a socket of its own: the health check, on the usual one, fails until the shop is in)
	sock=/run/mysqld/init.sock
	mariadbd --datadir="$datadir" --skip-networking --socket="$sock" --local-infile=1 &
	pid=$!
	i=0
	until mariadb --socket="$sock" -e 'SELECT 1' >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 120 ] || { say "the server did not start"; exit 1; }
		sleep 0.5
	done
	say "the sample shop at scale $scale"
	shopgen --scale "$scale" --out /tmp/shop
	my() { mariadb --socket="$sock" --local-infile=1 "$@"; }
	my -e "CREATE DATABASE shop CHARACTER SET utf8mb4"
	my shop </usr/local/share/ecsync/shop_schema.sql
	for t in users products sales sales_details; do
		my shop -e "SET unique_checks=0; SET foreign_key_checks=0;
			LOAD DATA LOCAL INFILE '/tmp/shop/$t.tsv' INTO TABLE \`$t\` CHARACTER SET utf8mb4
			FIELDS TERMINATED BY '\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\n'"
	done
	my shop </usr/local/share/ecsync/shop_indexes.sql
	rm -rf /tmp/shop
	pw=$(sed "s/'/''/g" "$secret")
	# ecsync reads (a consistent snapshot needs no more than SELECT; change
	# capture reads the binary log and its position too)
	my -e "CREATE USER 'ecsync'@'%' IDENTIFIED BY '$pw'; GRANT SELECT, SHOW VIEW ON shop.* TO 'ecsync'@'%';
	       GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'ecsync'@'%'"
	my -N -e "SELECT concat('shop: ', (SELECT count(*) FROM shop.users), ' users, ',
		(SELECT count(*) FROM shop.products), ' products, ', (SELECT count(*) FROM shop.sales), ' sales, ',
		(SELECT count(*) FROM shop.sales_details), ' sales_details')"
	kill "$pid"
	wait "$pid" || true
fi
sock=/run/mysqld/mysqld.sock
say "serving on port 3306"
exec mariadbd --datadir="$datadir" --socket="$sock" --bind-address=0.0.0.0 --port=3306 \
	--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
	--log-bin=binlog --server-id=1 --binlog-format=ROW --binlog-row-image=FULL \
	--binlog-row-metadata=FULL --expire-logs-days=7
