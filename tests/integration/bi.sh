# The bi group: a real BI tool on the analytics layer.  Apache Superset
# (tests/harness/superset.sh: installed once, one per stack, on the stack's
# PostgreSQL port + 7) is given the database ecsync as the read-only role of
# the Metabase recipe (docker/tools/setup.sh, for the schema analytics
# alone), reads the schema, makes the shop's charts through its REST API,
# and its chart-data API's numbers are compared with the independent
# computation of the analytics group (analytics_expected.py, over the shop's
# rows); then a user of the shop's team opens the dashboard in headless
# Chromium and every chart must show data.  docs/bi-superset.md says what
# this proves.  The shop and its page views are the analytics group's
# (analytics_setup: the sample shop synced, 20,000 page views streamed);
# this group makes the layer "analytics" over them and removes it, the role
# and Superset afterwards.

# shellcheck source=tests/integration/analytics.sh
. "$ECSYNC_TOP/tests/integration/analytics.sh"

bi_dir=$ECSYNC_RUN_DIR/bi
bi_py="$ECSYNC_TOP/tests/integration/bi_superset.py"
superset_sh="$ECSYNC_TOP/tests/harness/superset.sh"

# bi_role: the read-only role "metabase", made by the SQL of the Metabase
# recipe as docker/tools/setup.sh has it (the schema analytics alone), with
# a password of the test's
bi_role() {
	local recipe
	( umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$bi_dir/metabase-password" )
	recipe=$(sed -n '/^DO \\\$\\\$ BEGIN/,/^ALTER DEFAULT PRIVILEGES/p' "$ECSYNC_TOP/docker/tools/setup.sh" |
		sed -e 's/\\\$\\\$/$$/g' \
			-e "s|\$(lit /run/secrets/metabase_password)|$(cat "$bi_dir/metabase-password")|")
	assert_contains "CREATE ROLE metabase LOGIN" "$recipe" "the recipe's role"
	assert_contains "GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO metabase;" "$recipe" "the recipe's grant"
	[ "$(grep -c . <<<"$recipe")" = 8 ] || fail "the recipe in docker/tools/setup.sh is not the one this test knows: $recipe"
	psql_q <<<"$recipe"
}

# bi_end: what bi_begin made goes again; Superset stopped
bi_end() {
	set +e
	"$superset_sh" stop "$ECSYNC_STACK" >/dev/null 2>&1 || "$superset_sh" stop "$ECSYNC_STACK"
	psql_q -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS analytics CASCADE"
	psql_q -c "DELETE FROM ecsync.analytics_layers WHERE schema_name = 'analytics'" >/dev/null 2>&1
	if [ "$(psql_q -c "SELECT count(*) FROM pg_roles WHERE rolname = 'metabase'")" = 1 ]; then
		psql_q -c "DROP OWNED BY metabase CASCADE" -c "DROP ROLE metabase"
	fi
}

# bi_begin: the shop synced and streamed, the layer "analytics" over it, the
# role, a Superset of this stack, and what the Python side reads
bi_begin() {
	analytics_setup
	if [ "$(psql_q -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'analytics'")" != 0 ] ||
		[ "$(psql_q -c "SELECT count(*) FROM pg_roles WHERE rolname = 'metabase'")" != 0 ]; then
		fail "schema analytics or role metabase exists already: this group makes its own and removes them"
	fi
	trap bi_end EXIT
	rm -rf "$bi_dir"
	mkdir -p "$bi_dir"
	psql_q -c "SELECT ecsync_create_analytics('an_shop', analytics_schema => 'analytics')" >/dev/null
	bi_role
	eval "$("$superset_sh" start "$ECSYNC_STACK")"
	export BI_PG_HOST=127.0.0.1 BI_PG_PORT=$PGPORT BI_PG_DATABASE=ecsync BI_PG_USER=metabase \
		BI_PG_PASSWORD_FILE=$bi_dir/metabase-password BI_ANALYTICS_SCHEMA=analytics BI_SHOP_SCHEMA=an_shop
	# every column of every analytics relation, with its PostgreSQL type
	psql_q -F '|' -c "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
	  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	  WHERE c.relnamespace = 'analytics'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
	  ORDER BY 1, a.attnum" >"$bi_dir/catalog.tsv"
	# the shop's foreign keys: table, columns, referenced table and columns
	psql_q -F '|' -c "SELECT c.conrelid::regclass::text, string_agg(a.attname, ',' ORDER BY k.i),
	         (SELECT relname FROM pg_class WHERE oid = c.confrelid), string_agg(b.attname, ',' ORDER BY k.i)
	  FROM pg_constraint c, unnest(c.conkey, c.confkey) WITH ORDINALITY k(a, b, i)
	  JOIN pg_attribute a ON true JOIN pg_attribute b ON true
	  WHERE c.contype = 'f' AND c.connamespace = 'an_shop'::regnamespace
	    AND a.attrelid = c.conrelid AND a.attnum = k.a AND b.attrelid = c.confrelid AND b.attnum = k.b
	  GROUP BY c.oid, c.conrelid, c.confrelid" | sed 's/^an_shop\.//' >"$bi_dir/fks.tsv"
	[ "$(wc -l <"$bi_dir/fks.tsv")" -ge 3 ] || fail "the shop has $(wc -l <"$bi_dir/fks.tsv") foreign keys, not 3"
}

# bi_expected: the independent figures, from the shop's tables as they are
# now: MariaDB's rows (dump_mysql) and the stream's table an_shop.page_views
# as events (every one of them, those of other tests too), computed by
# analytics_expected.py with no SQL
bi_expected() {
	local an_dir=$bi_dir
	dump_mysql
	psql_q -c "SELECT user_id || E'\t' || json_build_object('user_id', user_id, 'age', age, 'gender', gender,
	             'occupation', occupation, 'page', page,
	             'viewed_at', to_char(viewed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'))
	           FROM an_shop.page_views" >"$bi_dir/page_views.jsonl"
	cp "$bi_dir/page_views.jsonl" "$bi_dir/events.jsonl"
	: >"$bi_dir/events_now.jsonl"
	python3 "$ECSYNC_TOP/tests/integration/analytics_expected.py" "$bi_dir" "$bi_dir/expected"
}

bi_py() { "$ECSYNC_SUPERSET_PYTHON" "$bi_py" "$@"; }

test_superset_reads_the_analytics_schema_as_the_read_only_role() {
	bi_begin
	local pw out
	pw=$(cat "$bi_dir/metabase-password")
	# the role reads analytics, and nothing else, and writes nothing
	assert_eq "$(psql_q -c "SELECT count(*) FROM analytics.sales_daily")" \
		"$(PGUSER=metabase PGPASSWORD=$pw psql_q -c "SELECT count(*) FROM analytics.sales_daily")" "what metabase reads"
	out=$(PGUSER=metabase PGPASSWORD=$pw psql_q -c "SELECT count(*) FROM an_shop.sales" 2>&1) &&
		fail "metabase read the shop's table: $out"
	assert_contains "permission denied for schema an_shop" "$out" "the shop's table"
	out=$(PGUSER=metabase PGPASSWORD=$pw psql_q -c "DELETE FROM analytics.sales_daily" 2>&1) &&
		fail "metabase deleted from a rollup: $out"
	assert_contains "permission denied for table sales_daily" "$out" "a write"
	bi_py connect "$bi_dir"
}

test_superset_charts_equal_an_independent_computation() {
	bi_begin
	bi_expected
	bi_py connect "$bi_dir"
	bi_py charts "$bi_dir"
	bi_py figures "$bi_dir"
}

test_dashboard_in_chromium_shows_every_chart() {
	bi_begin
	bi_expected >/dev/null
	bi_py connect "$bi_dir" >/dev/null
	bi_py charts "$bi_dir"
	# ECSYNC_BI_SCREENSHOT names where the picture goes too (the docs' is
	# docs/images/superset-dashboard.png)
	bi_py browser "$bi_dir" "$bi_dir/superset-dashboard.png"
	[ -z "${ECSYNC_BI_SCREENSHOT:-}" ] || cp "$bi_dir/superset-dashboard.png" "$ECSYNC_BI_SCREENSHOT"
	[ "$(stat -c %s "$bi_dir/superset-dashboard.png")" -lt 300000 ] || fail "the screenshot is 300 KB or more"
}
