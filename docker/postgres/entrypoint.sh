#!/bin/sh
# PostgreSQL 15 with pg_cron and ecsync preloaded.  On the first start (an
# empty data directory): initdb, the superuser's password from the secret
# postgres_password (password login, SCRAM, from the network), database
# "ecsync" where pg_cron schedules and stream workers run.  Runs as the
# postgres OS user.
set -eu
say() { echo "postgres-entrypoint: $*"; }
secret=/run/secrets/postgres_password

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	[ -r "$secret" ] || { say "the secret postgres_password is missing (run docker/make-secrets.sh)"; exit 1; }
	say "first start: initdb"
	initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=peer \
		--auth-host=scram-sha-256 --pwfile="$secret" >/dev/null
	cat >>"$PGDATA/postgresql.conf" <<-CONF
	listen_addresses = '*'
	shared_preload_libraries = 'pg_cron,ecsync'
	cron.database_name = 'ecsync'
	ecsync.database = 'ecsync'
	max_worker_processes = 32
	timezone = '${PG_TIMEZONE:-Asia/Tokyo}'
	log_timezone = '${PG_TIMEZONE:-Asia/Tokyo}'
	CONF
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	createdb ecsync
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
say "serving on port 5432"
exec postgres -D "$PGDATA"
