# docker/: the whole system in containers, as a user starts it.  The test
# starts the Docker daemon itself when it is not running (and stops it
# again), builds the base image from the machine's apt configuration
# (docker/base-image.sh: no registry is reachable here), builds every image
# of docker/docker-compose.yml, starts every service but Metabase (its image
# comes from Docker Hub), and checks a batch sync, events streamed, the
# archive written and the analytics figures, then takes it all down.

compose_file=$ECSYNC_TOP/docker/docker-compose.yml
project=ecsync_test
# host ports of this stack (only PostgreSQL and MariaDB are published)
export ECSYNC_PG_PORT=26432 ECSYNC_MYSQL_PORT=26306 METABASE_PORT=26001
export BASE_IMAGE=local/debian:bookworm SHOP_SCALE=0.01 EVENT_RATE=50 SYNC_SCHEDULE='* * * * *'

dc() { docker-compose -f "$compose_file" -p "$project" "$@"; }

# start_dockerd: the daemon, if it is not running; says whether it started it
start_dockerd() {
	docker info >/dev/null 2>&1 && return 1
	echo "starting dockerd"
	setsid dockerd >"$ECSYNC_RUN_DIR/dockerd.log" 2>&1 </dev/null &
	echo $! >"$ECSYNC_RUN_DIR/dockerd.pid"
	wait_for 60 docker info >/dev/null 2>&1 || { tail -n 20 "$ECSYNC_RUN_DIR/dockerd.log"; fail "dockerd did not start"; }
	return 0
}

stop_dockerd() {
	local pid
	pid=$(cat "$ECSYNC_RUN_DIR/dockerd.pid")
	kill "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
	fail "dockerd did not stop"
}

setup_exited() { [ "$(docker inspect -f '{{.State.Status}}' "${project}_setup_1" 2>/dev/null)" = exited ]; }

pg() { PGPASSWORD=$(cat "$ECSYNC_TOP/docker/secrets/postgres_password") psql -X -q -A -t -v ON_ERROR_STOP=1 \
	-h 127.0.0.1 -p "$ECSYNC_PG_PORT" -U postgres -d ecsync "$@"; }
my() { dc exec -T mariadb mariadb --socket=/run/mysqld/mysqld.sock -N -B shop "$@"; }
page_views() { pg -c "SELECT count(*) FROM shop.page_views"; }
more_page_views_than() { [ "$(page_views)" -gt "$1" ]; }

test_compose_builds_starts_syncs_streams_archives() {
	local t0 n
	docker_started=0
	if start_dockerd; then docker_started=1; fi
	trap 'dc down -v --remove-orphans >/dev/null 2>&1; [ $docker_started = 0 ] || stop_dockerd' EXIT
	"$ECSYNC_TOP/docker/base-image.sh"
	"$ECSYNC_TOP/docker/make-secrets.sh"
	dc down -v --remove-orphans >/dev/null 2>&1 || true

	t0=$(date +%s)
	dc build >"$ECSYNC_RUN_DIR/docker-build.log" 2>&1 || { tail -n 30 "$ECSYNC_RUN_DIR/docker-build.log"; fail "docker-compose build failed"; }
	echo "built in $(($(date +%s) - t0)) s"
	t0=$(date +%s)
	dc up -d mariadb kafka postgres setup producer ingest
	wait_for 300 setup_exited || fail "setup did not finish"
	dc logs setup | tail -n 25
	assert_eq 0 "$(docker inspect -f '{{.State.ExitCode}}' "${project}_setup_1")" "setup's exit code"
	echo "up and set up in $(($(date +%s) - t0)) s"

	# the batch: every shop table as MariaDB has it
	local t
	for t in users products sales sales_details; do
		assert_eq "$(my -e "SELECT count(*), sum(id) FROM $t" | tr '\t' '|')" \
			"$(pg -c "SELECT count(*), sum(id) FROM shop.$t" | tr -d ' ')" "shop.$t"
	done
	# the stream: page views keep arriving, none dead
	n=$(page_views)
	wait_for 30 more_page_views_than "$n" || fail "no page views streamed"
	assert_eq 0 "$(pg -c "SELECT count(*) FROM ecsync.dead_letters")" "dead letters"
	assert_eq "started|1" "$(pg -c "SELECT state, workers_running FROM ecsync.stream_status WHERE stream = 'page_views'")" "stream state"
	# the archive: the shop's snapshot, whole
	assert_contains "all match their manifests" "$(dc exec -T ingest sh -c 'ecsync-ingest -c "$HOME/ingest.conf" --verify')" "archive"
	# analytics: the figures MariaDB computes for itself
	assert_eq "$(my -e "SELECT count(*), sum(total) FROM sales WHERE status IN ('paid', 'shipped')" | tr '\t' '|')" \
		"$(pg -c "SELECT sum(orders), sum(revenue) FROM analytics.sales_daily")" "orders and revenue"
	assert_eq "$(my -e "SELECT DATE_FORMAT(max(sold_at), '%Y-%m-%d %H:%i:%s') FROM sales")" \
		"$(pg -c "SET TimeZone = 'Asia/Tokyo'; SELECT to_char(max(sold_at), 'YYYY-MM-DD HH24:MI:SS') FROM analytics.orders")" \
		"the last order, Tokyo time"
	[ "$(pg -c "SELECT users FROM analytics.active_users")" -gt 0 ] || fail "no active users"
	# pg_cron runs the sync (every minute here)
	assert_eq "SELECT ecsync_run_batch()" "$(pg -c "SELECT command FROM cron.job WHERE jobname = 'ecsync-shop'")" "pg_cron job"
	# Metabase's role reads the analytics schema, and nothing of ecsync's secrets
	assert_eq "$(pg -c "SELECT count(*) FROM analytics.customers")" \
		"$(PGPASSWORD=$(cat "$ECSYNC_TOP/docker/secrets/metabase_password") psql -X -A -t -h 127.0.0.1 -p "$ECSYNC_PG_PORT" \
		   -U metabase -d ecsync -c "SELECT count(*) FROM analytics.customers")" "metabase reads analytics"
	! PGPASSWORD=$(cat "$ECSYNC_TOP/docker/secrets/metabase_password") psql -X -A -t -h 127.0.0.1 -p "$ECSYNC_PG_PORT" \
		-U metabase -d ecsync -c "SELECT count(*) FROM shop.sales" >/dev/null 2>&1 || fail "metabase reads the shop's own tables"
	# no password in the compose file, nor in any container's environment or command
	local s c
	for s in mysql_password postgres_password metabase_password metabase_admin_password; do
		! grep -qF "$(cat "$ECSYNC_TOP/docker/secrets/$s")" "$compose_file" || fail "$s is in the compose file"
		for c in $(dc ps -q); do
			! docker inspect -f '{{json .Config.Env}} {{json .Config.Cmd}} {{json .Args}}' "$c" |
				grep -qF "$(cat "$ECSYNC_TOP/docker/secrets/$s")" || fail "$s is in the environment of $c"
		done
	done
	dc down -v --remove-orphans
	assert_eq "" "$(dc ps -q)" "containers left after down"
}

test_compose_file_pins_metabase_and_builds_from_a_base_argument() {
	# checks that need no daemon: the file as docker-compose reads it
	local config
	config=$(BASE_IMAGE=example/base:1 docker-compose -f "$compose_file" -p "$project" config)
	assert_match 'image: metabase/metabase:v[0-9]+\.[0-9]+\.[0-9]+' "$config" "Metabase's image, pinned"
	assert_match "published: ${METABASE_PORT}|${METABASE_PORT}:3000" "$config" "Metabase's port"
	assert_eq 7 "$(grep -c 'BASE_IMAGE: example/base:1' <<<"$config")" "services built FROM the base argument"
	grep -q '^ARG BASE_IMAGE=debian:bookworm' "$ECSYNC_TOP/docker/Dockerfile" || fail "the Dockerfile's default base is not debian:bookworm"
	[ "$(grep -c '^FROM \${BASE_IMAGE}' "$ECSYNC_TOP/docker/Dockerfile")" = "$(grep -c '^FROM ' "$ECSYNC_TOP/docker/Dockerfile")" ] ||
		fail "a stage does not start from BASE_IMAGE"
	# and without METABASE_PORT, Metabase is on 3001, as the original was
	config=$(env -u METABASE_PORT docker-compose -f "$compose_file" -p "$project" config)
	assert_match 'published: 3001|3001:3000' "$config" "Metabase's default port"
}
