# The analytics layer Metabase charts (ecsync_create_analytics), against the
# real stack: every figure compared with the same figure computed
# independently (analytics_expected.py, from MariaDB's rows and the events as
# they were sent, no SQL), kept current by batch runs, with types Metabase
# can use, DATETIME as instants of the shop's zone, and MySQL's foreign keys
# carried over.  Streams run in database "ecsync", so everything is there,
# under names of its own (an_*).

# shellcheck source=tests/shop_lib.sh
. "$ECSYNC_TOP/tests/shop_lib.sh"

pvproduce=$ECSYNC_TOP/tests/gen/pvproduce
an_dir=$ECSYNC_RUN_DIR/analytics
# the last two days of the sample shop (2026-11-26 00:00 JST on), where the
# page views meet the sales
an_start_ms=$(((1795791600 - 2 * 86400) * 1000))

# analytics_setup (once per stack): the shop at scale 0.01 in MariaDB
# database an_shop, synced into schema an_shop with DATETIME in Asia/Tokyo,
# page views streamed into an_shop.page_views, the layer in an_analytics
analytics_setup() {
	export PGDATABASE=ecsync PGTZ=UTC
	# the marker alone is not enough: a group in between may have dropped
	# the extension of database ecsync (batch's pg_cron test does), and with
	# it the registrations, the stream and the layer
	[ -f "$an_dir/ready" ] && analytics_still_there && return 0
	rm -rf "$an_dir"
	mkdir -p "$an_dir"
	load_shop an_shop 0.01 7 >/dev/null
	psql_q -c "CREATE EXTENSION IF NOT EXISTS ecsync"
	# a set-up made again: its stream goes first (its worker writes an_shop)
	psql_q -c "SELECT ecsync_unregister_stream(name) FROM ecsync.streams WHERE name = 'an_page_views'" >/dev/null
	psql_q -c "DROP SCHEMA IF EXISTS an_shop, an_analytics, an_broken CASCADE; CREATE SCHEMA an_shop"
	psql_q -c "DROP SERVER IF EXISTS an_src CASCADE"
	psql_q -c "CREATE SERVER an_src FOREIGN DATA WRAPPER ecsync_mysql
	           OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database 'an_shop',
	                    datetime_zone 'Asia/Tokyo', bigint_unsigned 'bigint'${ECSYNC_MYSQL_SERVER_TLS:-})"
	user_mapping an_src
	psql_q -c "SELECT count(*) FROM ecsync_register_shop('an_src', 'an_shop', 'incremental')" >/dev/null
	assert_eq succeeded "$(psql_q -c "SELECT DISTINCT status FROM ecsync_run_batch()")" "first run"

	"$pvproduce" -t an_page_views --delete-topic -p 3 -n 20000 --scale 0.01 --seed 7 \
		--start-ms "$an_start_ms" --echo "$an_dir/events.jsonl" -q
	psql_q -c "CREATE SERVER IF NOT EXISTS an_kafka FOREIGN DATA WRAPPER ecsync_kafka
	           OPTIONS (bootstrap_servers '$ECSYNC_KAFKA_BROKERS')"
	psql_q -c "SELECT ecsync_register_stream('an_page_views', 'an_kafka', topic => 'an_page_views',
	           target_table => 'page_views', target_schema => 'an_shop')" >/dev/null
	psql_q -c "SELECT ecsync_start_stream('an_page_views')" >/dev/null
	wait_for 60 page_views_at_least 20000 ||
		fail "the stream did not deliver the 20000 page views"
	psql_q -c "SELECT ecsync_create_analytics('an_shop', analytics_schema => 'an_analytics')" >/dev/null
	touch "$an_dir/ready"
}

# analytics_still_there: the shop's registrations, its stream and the layer
# an_analytics of analytics_setup are all still in database ecsync
analytics_still_there() {
	[ "$(psql_q -c "SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'ecsync') = 1
	          AND EXISTS (SELECT FROM ecsync.sync_tables WHERE server_name = 'an_src')
	          AND EXISTS (SELECT FROM ecsync.streams WHERE name = 'an_page_views')
	          AND EXISTS (SELECT FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics')" 2>/dev/null)" = t ]
}

page_views_at_least() { [ "$(psql_q -c "SELECT count(*) FROM an_shop.page_views")" -ge "$1" ]; }

# events of the last five minutes, streamed: active users
send_recent_events() {
	local before
	before=$(psql_q -c "SELECT count(*) FROM an_shop.page_views")
	"$pvproduce" -t an_page_views -n 60 --scale 0.01 --seed 7 --echo "$an_dir/events_now.jsonl" -q
	wait_for 30 page_views_at_least $((before + 60)) ||
		fail "the stream did not deliver the recent page views"
}

# dump_mysql: the shop as MariaDB holds it, for analytics_expected.py
dump_mysql() {
	my_q an_shop -e "SELECT id, age, gender, occupation FROM users" >"$an_dir/users.tsv"
	my_q an_shop -e "SELECT id, category FROM products" >"$an_dir/products.tsv"
	my_q an_shop -e "SELECT id, user_id, DATE_FORMAT(sold_at, '%Y-%m-%d %H:%i:%s'), total, status FROM sales" >"$an_dir/sales.tsv"
	my_q an_shop -e "SELECT id, sale_id, product_id, quantity, unit_price FROM sales_details" >"$an_dir/sales_details.tsv"
}

# pg_figure NAME: the figure as the analytics layer gives it, canonical
pg_figure() {
	local a=an_analytics q
	case $1 in
		sales_daily) q="SELECT concat_ws('|', business_day, orders, revenue, items, customers, avg_order_value) FROM $a.sales_daily" ;;
		orders_by_status) q="SELECT concat_ws('|', business_day, status, orders, amount) FROM $a.orders_by_status" ;;
		sales_weekly) q="SELECT concat_ws('|', week_start, orders, revenue, items, avg_order_value) FROM $a.sales_weekly" ;;
		sales_monthly) q="SELECT concat_ws('|', month_start, orders, revenue, items, avg_order_value) FROM $a.sales_monthly" ;;
		product_ranking) q="SELECT concat_ws('|', period, period_start, product_id, quantity, revenue, revenue_rank, quantity_rank,
		                      previous_quantity, previous_revenue, revenue_change, coalesce(revenue_change_pct::text, '')) FROM $a.product_ranking" ;;
		category_ranking) q="SELECT concat_ws('|', period, period_start, category, quantity, revenue, revenue_rank, quantity_rank,
		                      previous_quantity, previous_revenue, revenue_change, coalesce(revenue_change_pct::text, '')) FROM $a.category_ranking" ;;
		segment_sales) q="SELECT concat_ws('|', age_band, gender, occupation, category, customers, orders, quantity, revenue) FROM $a.segment_sales" ;;
		customer_segments) q="SELECT concat_ws('|', age_band, gender, occupation, customers) FROM $a.customer_segments" ;;
		page_traffic_hourly) q="SELECT concat_ws('|', extract(epoch FROM hour)::bigint, page, page_kind, views, users) FROM $a.page_traffic_hourly" ;;
		funnel) q="SELECT concat_ws('|', segment_kind, segment, product_users, cart_users, checkout_users, complete_users,
		             coalesce(product_to_cart_pct::text, ''), coalesce(cart_to_checkout_pct::text, ''),
		             coalesce(checkout_to_complete_pct::text, ''), coalesce(conversion_pct::text, '')) FROM $a.funnel" ;;
		pages_before_purchase) q="SELECT concat_ws('|', page, page_kind, orders, buyers) FROM $a.pages_before_purchase" ;;
		active_users) q="SELECT concat_ws('|', users, views) FROM $a.active_users" ;;
	esac
	psql_q -c "$q" | LC_ALL=C sort
}

# compare_figures NAME...: each figure equals the independent computation
compare_figures() {
	local f bad=0
	python3 "$ECSYNC_TOP/tests/integration/analytics_expected.py" "$an_dir" "$an_dir/expected"
	for f in "$@"; do
		pg_figure "$f" >"$an_dir/pg.$f"
		[ -s "$an_dir/expected/$f" ] || fail "no expected rows for $f"
		if cmp -s "$an_dir/expected/$f" "$an_dir/pg.$f"; then
			echo "$f: $(wc -l <"$an_dir/pg.$f") rows equal"
		else
			echo "$f differs (expected <, analytics >):"
			diff "$an_dir/expected/$f" "$an_dir/pg.$f" | head -n 8
			bad=1
		fi
	done
	[ $bad = 0 ] || fail "analytics figures differ from the independent computation"
}

all_figures="sales_daily orders_by_status sales_weekly sales_monthly product_ranking category_ranking
	segment_sales customer_segments page_traffic_hourly funnel pages_before_purchase active_users"

test_every_figure_matches_an_independent_computation() {
	analytics_setup
	send_recent_events
	dump_mysql
	# shellcheck disable=SC2086
	compare_figures $all_figures
	# the join of views and purchases is not empty: the test can fail
	[ "$(psql_q -c "SELECT sum(orders) FROM an_analytics.pages_before_purchase")" -gt 0 ] ||
		fail "no purchase had page views before it"
}

test_batch_runs_keep_the_rollups_current() {
	analytics_setup
	local before
	before=$(psql_q -c "SELECT refreshed_at FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")
	# a new order on the last business day, one cancelled, one refunded
	my_q an_shop -e "INSERT INTO sales (user_id, sold_at, total, status) VALUES (3, '2026-11-27 23:59:59', 4321.00, 'paid');
	  INSERT INTO sales_details (sale_id, product_id, quantity, unit_price) VALUES (LAST_INSERT_ID(), 5, 3, 1440.33);
	  UPDATE sales SET status = 'cancelled' WHERE id = 100;
	  UPDATE sales SET status = 'refunded' WHERE id = (SELECT max(id) FROM (SELECT id FROM sales WHERE status = 'paid' AND id < 14000) s)"
	assert_eq succeeded "$(psql_q -c "SELECT DISTINCT status FROM ecsync_run_batch()")" "run"
	[ "$(psql_q -c "SELECT refreshed_at > '$before' FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")" = t ] ||
		fail "the run did not refresh the layer"
	: >"$an_dir/events_now.jsonl"
	dump_mysql
	compare_figures sales_daily orders_by_status sales_monthly product_ranking category_ranking segment_sales
	assert_eq "2026-11-27 23:59:59+09" \
		"$(psql_q -c "SET TimeZone = 'Asia/Tokyo'; SELECT max(sold_at) FROM an_analytics.orders")" "the new order's time"
}

test_metabase_can_use_every_column() {
	analytics_setup
	local n bad
	n=$(psql_q -c "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'an_analytics'")
	[ "$n" -ge 50 ] || fail "only $n columns in the analytics schema"
	# types the query builder cannot filter or group, times without a zone,
	# ids read as decimals
	bad=$(psql_q -c "SELECT string_agg(format('%s.%s %s', table_name, column_name, format_type(a.atttypid, a.atttypmod)), ', ')
	  FROM information_schema.columns c
	  JOIN pg_attribute a ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass AND a.attname = c.column_name
	  WHERE c.table_schema = 'an_analytics'
	    AND (c.data_type IN ('interval', 'bit', 'bit varying', 'bytea', 'ARRAY', 'time without time zone',
	                         'timestamp without time zone', 'USER-DEFINED', 'json', 'jsonb', 'xml', 'money')
	         OR (c.column_name ~ '(^id|_id)$' AND c.data_type NOT IN ('bigint', 'integer')))")
	[ -z "$bad" ] || fail "columns Metabase cannot use: $bad"
	assert_eq "timestamp with time zone" \
		"$(psql_q -c "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_schema = 'an_analytics'
		              AND column_name IN ('sold_at', 'registered_at', 'viewed_at', 'hour', 'since')")" "times"
	# and every object says what it is
	n=$(psql_q -c "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'an_analytics'::regnamespace
	               AND c.relkind IN ('v', 'm', 'r') AND obj_description(c.oid, 'pg_class') IS NULL")
	assert_eq 0 "$n" "views and tables without a description"
}

# The sample shop's MySQL columns and tables carry Japanese comments, as the
# shop's team writes them; every column of the synced tables has MySQL's
# comment, so that Metabase and Superset show it, and each table MySQL's
# table comment with where it came from.
test_the_shop_tables_carry_mysqls_column_comments() {
	analytics_setup
	local t my pg
	for t in users products sales sales_details; do
		my=$(my_q an_shop -e "SELECT CONCAT(COLUMN_NAME, ':', COLUMN_COMMENT) FROM information_schema.COLUMNS
		                      WHERE TABLE_SCHEMA = 'an_shop' AND TABLE_NAME = '$t' ORDER BY ORDINAL_POSITION")
		pg=$(psql_q -c "SELECT attname || ':' || coalesce(col_description(attrelid, attnum), '') FROM pg_attribute
		                WHERE attrelid = 'an_shop.$t'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
		assert_eq "$my" "$pg" "an_shop.$t's column comments are MySQL's"
		[[ $my != *":"$'\n'* && $my != *: ]] || fail "MySQL's $t has a column without a comment: $my"
		assert_contains "$(my_q an_shop -e "SELECT TABLE_COMMENT FROM information_schema.TABLES
		                                    WHERE TABLE_SCHEMA = 'an_shop' AND TABLE_NAME = '$t'")" \
			"$(psql_q -c "SELECT obj_description('an_shop.$t'::regclass, 'pg_class')")" "an_shop.$t's table comment"
	done
	assert_eq "注文状態（pending: 決済待ち、paid: 決済済み、shipped: 発送済み、cancelled: キャンセル、refunded: 返金済み）" \
		"$(psql_q -c "SELECT col_description('an_shop.sales'::regclass, 5)")" "sales.status says what each state means"
}

test_datetime_zone_makes_instants_of_wall_clock_times() {
	analytics_setup
	assert_eq "timestamp with time zone" \
		"$(psql_q -c "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 'an_shop.sales'::regclass AND attname = 'sold_at'")" \
		"sold_at's type"
	local a b
	a=$(my_q an_shop -e "SELECT CONCAT(id, '|', DATE_FORMAT(sold_at, '%Y-%m-%d %H:%i:%s')) FROM sales ORDER BY id" | md5sum)
	b=$(psql_q -c "SELECT concat(id, '|', to_char(sold_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD HH24:MI:SS')) FROM an_shop.sales ORDER BY id" | md5sum)
	[ "$a" = "$b" ] || fail "sold_at in Asia/Tokyo differs from MySQL's wall-clock time"
	# an instant: 2024-01-01 00:09:47 in Tokyo is 2023-12-31 15:09:47 UTC
	assert_eq 0 "$(psql_q -c "SELECT count(*) FROM an_shop.sales s WHERE s.sold_at AT TIME ZONE 'UTC' + interval '9 hours'
	                         <> (s.sold_at AT TIME ZONE 'Asia/Tokyo')")" "UTC + 9 h"
	# a zone PostgreSQL does not know is refused when the server is defined
	local out
	out=$(psql_q -c "CREATE SERVER an_bad FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (datetime_zone 'Mars/Olympus'${ECSYNC_MYSQL_SERVER_TLS:-})" 2>&1) &&
		fail "an unknown zone was accepted"
	assert_contains 'invalid datetime_zone "Mars/Olympus"' "$out" "the error"
}

test_foreign_keys_are_carried_over_not_valid() {
	analytics_setup
	assert_eq "an_shop.sales_details|ecsync_fk_details_product_fk|FOREIGN KEY (product_id) REFERENCES an_shop.products(id) NOT VALID
an_shop.sales_details|ecsync_fk_details_sale_fk|FOREIGN KEY (sale_id) REFERENCES an_shop.sales(id) NOT VALID
an_shop.sales|ecsync_fk_sales_user_fk|FOREIGN KEY (user_id) REFERENCES an_shop.users(id) NOT VALID" \
		"$(psql_q -F '|' -c "SELECT conrelid::regclass, conname, pg_get_constraintdef(oid) FROM pg_constraint
		                      WHERE contype = 'f' AND connamespace = 'an_shop'::regnamespace ORDER BY conname")" "foreign keys"
	# other writers are held to them
	local out
	out=$(psql_q -c "INSERT INTO an_shop.sales (id, user_id, sold_at, total, status) VALUES (99999999, 99999999, now(), 1, 'paid')" 2>&1) &&
		fail "a sale of a user that does not exist was accepted"
	assert_contains "ecsync_fk_sales_user_fk" "$out" "the error"
	# a full sync of a referenced table (TRUNCATE) still works, keys kept
	psql_q -c "SELECT ecsync_register_table('an_src', 'users', target_schema => 'an_shop', mode => 'full')" >/dev/null
	assert_eq succeeded "$(psql_q -c "SELECT status FROM ecsync_run_batch('an_shop.users')")" "full sync of users"
	assert_eq 3 "$(psql_q -c "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'an_shop'::regnamespace")" \
		"keys after the full sync"
	psql_q -c "SELECT ecsync_register_table('an_src', 'users', target_schema => 'an_shop', mode => 'incremental',
	           cursor_column => 'updated_at')" >/dev/null
	# switched off, a run adds none
	psql_q -c "DROP SCHEMA IF EXISTS an_nofk CASCADE; CREATE SCHEMA an_nofk"
	psql_q -c "SELECT ecsync_register_table('an_src', t, target_schema => 'an_nofk') FROM unnest(ARRAY['users', 'sales']) t" >/dev/null
	# (the worker reads the setting as a new session does)
	psql_q -c "ALTER DATABASE ecsync SET ecsync.batch_carry_foreign_keys = off"
	psql_q -c "SELECT status FROM ecsync_run_batch('an_nofk.users'); SELECT status FROM ecsync_run_batch('an_nofk.sales')" >/dev/null
	psql_q -c "ALTER DATABASE ecsync RESET ecsync.batch_carry_foreign_keys"
	assert_eq 0 "$(psql_q -c "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'an_nofk'::regnamespace")" \
		"keys with ecsync.batch_carry_foreign_keys off"
	psql_q -c "SELECT ecsync_unregister_table(t, 'an_nofk') FROM unnest(ARRAY['users', 'sales']) t" >/dev/null
}

test_another_roles_key_keeps_its_referential_checks() {
	analytics_setup
	# a user MySQL then deletes; another role's table references it
	my_q an_shop -e "INSERT INTO users (id, name, email, created_at) VALUES (90001, 'x', 'x@example.jp', NOW())"
	assert_eq succeeded "$(psql_q -c "SELECT status FROM ecsync_run_batch('an_shop.users')")" "sync of the new user"
	psql_q -c "DROP TABLE IF EXISTS public.an_other_ref; DROP ROLE IF EXISTS an_other; CREATE ROLE an_other;
	           GRANT USAGE ON SCHEMA an_shop TO an_other; GRANT REFERENCES ON an_shop.users TO an_other;
	           CREATE TABLE public.an_other_ref (user_id bigint REFERENCES an_shop.users (id));
	           INSERT INTO public.an_other_ref VALUES (90001); ALTER TABLE public.an_other_ref OWNER TO an_other"
	my_q an_shop -e "DELETE FROM users WHERE id = 90001"
	local out
	out=$(psql_q -c "SELECT status FROM ecsync_reconcile_deletes('an_shop.users')" 2>&1) &&
		fail "the delete broke another role's foreign key: $out"
	assert_contains 'violates foreign key constraint' "$out" "the error"
	assert_eq 1 "$(psql_q -c "SELECT count(*) FROM an_shop.users WHERE id = 90001")" "the user, kept"
	# without that table, the delete goes through (carried keys do not check)
	psql_q -c "DROP TABLE public.an_other_ref; REVOKE ALL ON an_shop.users FROM an_other;
	           REVOKE ALL ON SCHEMA an_shop FROM an_other; DROP ROLE an_other"
	assert_eq succeeded "$(psql_q -c "SELECT status FROM ecsync_reconcile_deletes('an_shop.users')")" "reconcile"
	assert_eq 0 "$(psql_q -c "SELECT count(*) FROM an_shop.users WHERE id = 90001")" "the user, deleted"
}

test_a_layer_made_without_runs_is_refreshed_when_called() {
	analytics_setup
	psql_q -c "SELECT ecsync_create_analytics('an_shop', analytics_schema => 'an_manual', refresh_with_runs => false)" >/dev/null
	local before orders
	before=$(psql_q -c "SELECT refreshed_at FROM ecsync.analytics_layers WHERE schema_name = 'an_manual'")
	orders=$(psql_q -c "SELECT sum(orders) FROM an_manual.sales_daily")
	my_q an_shop -e "INSERT INTO sales (user_id, sold_at, total, status) VALUES (5, '2026-11-27 12:00:00', 100.00, 'paid')"
	assert_eq succeeded "$(psql_q -c "SELECT DISTINCT status FROM ecsync_run_batch()")" "run"
	# the run refreshed the other layer, not this one
	assert_eq "$before" "$(psql_q -c "SELECT refreshed_at FROM ecsync.analytics_layers WHERE schema_name = 'an_manual'")" "refreshed_at"
	assert_eq "$orders" "$(psql_q -c "SELECT sum(orders) FROM an_manual.sales_daily")" "orders before the call"
	assert_eq $((orders + 1)) "$(psql_q -c "SELECT sum(orders) FROM an_analytics.sales_daily")" "orders of the layer runs refresh"
	assert_eq 1 "$(psql_q -c "SELECT ecsync_refresh_analytics('an_manual')")" "layers refreshed"
	assert_eq $((orders + 1)) "$(psql_q -c "SELECT sum(orders) FROM an_manual.sales_daily")" "orders after the call"
	psql_q -c "DROP SCHEMA an_manual CASCADE"
}

test_another_role_cannot_remake_or_refresh_a_layer() {
	analytics_setup
	psql_q -c "DROP ROLE IF EXISTS an_intruder; CREATE ROLE an_intruder; GRANT CREATE ON DATABASE ecsync TO an_intruder;
	           GRANT USAGE, CREATE ON SCHEMA an_analytics TO an_intruder;
	           GRANT USAGE ON SCHEMA an_shop TO an_intruder; GRANT SELECT ON ALL TABLES IN SCHEMA an_shop TO an_intruder"
	local before out
	before=$(psql_q -c "SELECT refreshed_at FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")
	# it sees no layer of the owner's, so refreshes none
	assert_eq 0 "$(psql_q -c "SET ROLE an_intruder; SELECT ecsync_refresh_analytics('an_analytics')")" "layers refreshed by another role"
	assert_eq 0 "$(psql_q -c "SET ROLE an_intruder; SELECT count(*) FROM ecsync.analytics_layers")" "layers another role sees"
	# and cannot make it again, even with CREATE on the database and the schema
	out=$(psql_q -c "SET ROLE an_intruder; SELECT ecsync_create_analytics('an_shop', analytics_schema => 'an_analytics')" 2>&1) &&
		fail "another role re-made the layer: $out"
	assert_match 'must be owner|belongs to role' "$out" "the error"
	assert_eq "$before" "$(psql_q -c "SELECT refreshed_at FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")" "refreshed_at"
	assert_eq postgres "$(psql_q -c "SELECT owner::regrole FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")" "the owner"
	psql_q -c "REVOKE ALL ON SCHEMA an_analytics, an_shop FROM an_intruder; REVOKE ALL ON ALL TABLES IN SCHEMA an_shop FROM an_intruder;
	           REVOKE ALL ON DATABASE ecsync FROM an_intruder; DROP ROLE an_intruder"
}

test_a_broken_layer_is_recorded_and_does_not_fail_the_run() {
	analytics_setup
	psql_q -c "SELECT ecsync_create_analytics('an_shop', analytics_schema => 'an_broken')" >/dev/null
	psql_q -c "ALTER TABLE an_broken.segment_sales RENAME TO segment_sales_moved"
	assert_eq succeeded "$(psql_q -c "SELECT DISTINCT status FROM ecsync_run_batch()")" "run with a broken layer"
	assert_contains '"an_broken.segment_sales" does not exist' \
		"$(psql_q -c "SELECT last_error FROM ecsync.analytics_layers WHERE schema_name = 'an_broken'")" "the broken layer's error"
	assert_eq "" "$(psql_q -c "SELECT last_error FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")" \
		"the other layer's error"
	psql_q -c "DROP SCHEMA an_broken CASCADE"
}

# rollups_equal_a_full_recompute: every rollup of an_analytics holds the rows
# a layer made from scratch does
rollups_equal_a_full_recompute() {
	local t n
	psql_q -c "SELECT ecsync_create_analytics('an_shop', analytics_schema => 'an_full', refresh_with_runs => false)" >/dev/null
	for t in sales_daily orders_by_status product_sales_daily product_ranking category_ranking segment_sales \
		customer_category_sales; do
		n=$(psql_q -c "SELECT count(*) FROM ((SELECT * FROM an_analytics.$t EXCEPT ALL SELECT * FROM an_full.$t)
		               UNION ALL (SELECT * FROM an_full.$t EXCEPT ALL SELECT * FROM an_analytics.$t)) x")
		assert_eq 0 "$n" "rows of $t that differ from a full recompute"
	done
	psql_q -c "DROP SCHEMA an_full CASCADE"
}

test_an_incremental_run_recomputes_what_changed() {
	analytics_setup
	local mode
	# a new order, a status changed, a quantity changed, an order moved 45
	# days back (another day, week and month), a customer's segment changed,
	# an order line and an order deleted
	my_q an_shop -e "INSERT INTO sales (user_id, sold_at, total, status) VALUES (7, '2026-11-20 10:00:00', 999.00, 'shipped');
	  INSERT INTO sales_details (sale_id, product_id, quantity, unit_price) VALUES (LAST_INSERT_ID(), 9, 2, 499.50);
	  UPDATE sales SET status = 'cancelled' WHERE id = (SELECT min(id) FROM (SELECT id FROM sales WHERE status = 'shipped' AND id > 200) s);
	  UPDATE sales_details SET quantity = quantity + 2
	   WHERE id = (SELECT min(id) FROM (SELECT d.id FROM sales_details d JOIN sales s ON s.id = d.sale_id
	                                     WHERE s.status = 'shipped' AND s.id > 300) x);
	  UPDATE sales SET sold_at = sold_at - INTERVAL 45 DAY WHERE id = (SELECT min(id) FROM (SELECT id FROM sales WHERE status = 'shipped' AND id > 400) s);
	  UPDATE users SET age = 71, occupation = 'retired' WHERE id = 11;
	  DELETE FROM sales_details WHERE id = (SELECT min(id) FROM (SELECT d.id FROM sales_details d JOIN sales s ON s.id = d.sale_id
	                                                              WHERE s.status = 'paid') x);
	  DELETE FROM sales_details WHERE sale_id = (SELECT min(id) FROM (SELECT id FROM sales WHERE status = 'shipped' AND id > 600) s);
	  DELETE FROM sales WHERE id = (SELECT min(id) FROM (SELECT id FROM sales WHERE status = 'shipped' AND id > 600) s)"
	assert_eq succeeded "$(psql_q -c "SELECT DISTINCT status FROM ecsync_run_batch()")" "run"
	mode=$(psql_q -c "SELECT refresh_mode FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")
	assert_match '^incremental: [1-9][0-9]* business days' "$mode" "how the run refreshed"
	assert_eq succeeded "$(psql_q -c "SELECT DISTINCT status FROM ecsync_reconcile_deletes()")" "delete reconciliation"
	mode=$(psql_q -c "SELECT refresh_mode FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")
	assert_match '^incremental: [1-9][0-9]* business days' "$mode" "how the reconciliation refreshed"
	: >"$an_dir/events_now.jsonl"
	dump_mysql
	compare_figures sales_daily orders_by_status sales_weekly sales_monthly product_ranking category_ranking segment_sales
	rollups_equal_a_full_recompute
	# nothing changed: nothing to do
	assert_eq succeeded "$(psql_q -c "SELECT DISTINCT status FROM ecsync_run_batch()")" "run without changes"
	assert_eq "incremental: nothing changed" \
		"$(psql_q -c "SELECT refresh_mode FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")" "an idle run"
	# a full load truncates: everything is recomputed
	psql_q -c "SELECT ecsync_register_table('an_src', 'products', target_schema => 'an_shop', mode => 'full')" >/dev/null
	my_q an_shop -e "UPDATE products SET category = 'renamed' WHERE id = 9"
	assert_eq succeeded "$(psql_q -c "SELECT status FROM ecsync_run_batch('an_shop.products')")" "full sync of products"
	psql_q -c "SELECT ecsync_register_table('an_src', 'products', target_schema => 'an_shop', mode => 'incremental',
	           cursor_column => 'updated_at')" >/dev/null
	assert_eq "full: a full load or TRUNCATE" \
		"$(psql_q -c "SELECT refresh_mode FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")" "after a full load"
	dump_mysql
	compare_figures category_ranking segment_sales
	rollups_equal_a_full_recompute
}

# Changes in many statements before one refresh, written in PostgreSQL as
# runs would write them: a line changed twice and moved to another order,
# that order cancelled and shipped again, a line added and deleted, a line
# added.  The triggers keep each order and line as it was before its first
# change, so the rollups move by exactly the difference; then all of it
# undone.
test_changes_in_many_statements_move_the_rollups_exactly() {
	analytics_setup
	local x a b mode
	x=$(psql_q -c "SELECT min(d.id) FROM an_shop.sales_details d JOIN an_shop.sales s ON s.id = d.sale_id WHERE s.status = 'paid'")
	a=$(psql_q -c "SELECT sale_id FROM an_shop.sales_details WHERE id = $x")
	b=$(psql_q -c "SELECT max(id) FROM an_shop.sales WHERE status = 'shipped' AND user_id <> (SELECT user_id FROM an_shop.sales WHERE id = $a)")
	psql_q -c "UPDATE an_shop.sales_details SET quantity = quantity + 5 WHERE id = $x;
	           UPDATE an_shop.sales_details SET sale_id = $b WHERE id = $x;
	           UPDATE an_shop.sales SET status = 'cancelled' WHERE id = $b;
	           UPDATE an_shop.sales SET status = 'shipped' WHERE id = $b;
	           INSERT INTO an_shop.sales_details (id, sale_id, product_id, quantity, unit_price) VALUES (90000001, $a, 2, 1, 10.00);
	           DELETE FROM an_shop.sales_details WHERE id = 90000001;
	           INSERT INTO an_shop.sales_details (id, sale_id, product_id, quantity, unit_price) VALUES (90000002, $a, 3, 2, 20.00)"
	assert_eq 1 "$(psql_q -c "SELECT ecsync_refresh_analytics('an_analytics')")" "layers refreshed"
	mode=$(psql_q -c "SELECT refresh_mode FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")
	assert_match '^incremental: [1-9][0-9]* business days, [2-9] orders' "$mode" "how the changes were refreshed"
	rollups_equal_a_full_recompute
	psql_q -c "UPDATE an_shop.sales_details SET sale_id = $a, quantity = quantity - 5 WHERE id = $x;
	           DELETE FROM an_shop.sales_details WHERE id = 90000002"
	psql_q -c "SELECT ecsync_refresh_analytics('an_analytics')" >/dev/null
	assert_match '^incremental: ' "$(psql_q -c "SELECT refresh_mode FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")" \
		"how the undoing was refreshed"
	rollups_equal_a_full_recompute
	dump_mysql
	: >"$an_dir/events_now.jsonl"
	compare_figures sales_daily product_ranking category_ranking segment_sales
}

# The rollups are unlogged: a crash leaves them empty (as TRUNCATE does
# here), and the next refresh recomputes everything
test_rollups_emptied_by_a_crash_are_recomputed() {
	analytics_setup
	assert_eq "category_ranking customer_category_sales orders_by_status product_ranking product_sales_daily sales_daily segment_sales" \
		"$(psql_q -c "SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class
		              WHERE relnamespace = 'an_analytics'::regnamespace AND relkind = 'r' AND relpersistence = 'u'")" "the unlogged rollups"
	psql_q -c "TRUNCATE an_analytics.sales_daily, an_analytics.orders_by_status, an_analytics.product_sales_daily,
	           an_analytics.product_ranking, an_analytics.category_ranking, an_analytics.customer_category_sales,
	           an_analytics.segment_sales"
	assert_eq 1 "$(psql_q -c "SELECT ecsync_refresh_analytics('an_analytics')")" "layers refreshed"
	assert_eq "full: the rollups were empty (after a crash)" \
		"$(psql_q -c "SELECT refresh_mode FROM ecsync.analytics_layers WHERE schema_name = 'an_analytics'")" "after the crash"
	dump_mysql
	: >"$an_dir/events_now.jsonl"
	compare_figures sales_daily orders_by_status product_ranking category_ranking segment_sales
}

# the live view (bin/ecsync-watch, make watch) in a real terminal: tmux
tmux_() { tmux -L ecsync-test "$@"; }
pane() { tmux_ capture-pane -p -t watch; }
pane_has() { pane | grep -qF -- "$1"; }
watch_gone() { ! tmux_ has-session -t watch 2>/dev/null; }

test_live_view_in_a_terminal() {
	analytics_setup
	local envs=() v out rows
	for v in $(env | sed -n "s/^\(PG[A-Z_]*\)=.*/\1/p"); do envs+=(-e "$v=${!v-}"); done
	psql_q -c "CREATE EXTENSION IF NOT EXISTS pg_cron"
	psql_q -c "SELECT cron.schedule('an-watch', '0 3 * * *', 'SELECT 1')" >/dev/null
	tmux_ kill-server 2>/dev/null || true
	trap 'tmux_ kill-server 2>/dev/null || true; psql_q -c "SELECT cron.unschedule('"'an-watch'"')" >/dev/null 2>&1' EXIT
	tmux_ new-session -d -s watch -x 120 -y 32 "${envs[@]}" "$ECSYNC_TOP/bin/ecsync-watch"
	wait_for 10 pane_has "PAGES" || { pane; fail "the live view did not draw"; }
	out=$(pane)
	echo "$out"
	assert_match '^ecsync live - ecsync@' "$(head -n 1 <<<"$out")" "the first line"
	rows=$(psql_q -c "SELECT to_char(count(*), 'FM999,999,999,990') FROM an_shop.sales")
	assert_match "an_shop\.sales +incremental +$rows " "$out" "rows of an_shop.sales"
	assert_match "an_page_views +started +1/1 " "$out" "the stream"
	assert_contains "PG_CRON  an-watch (0 3 * * *)" "$out" "the pg_cron job"
	assert_match "SALES  today [0-9-]+: .* latest day 2026-11-2[0-9]: [0-9]+ orders" "$out" "sales"
	# it refreshes: new events show within a couple of seconds
	"$pvproduce" -t an_page_views -n 500 --scale 0.01 --seed 7 -q
	wait_for 30 page_views_at_least "$(($(psql_q -c "SELECT count(*) FROM an_shop.page_views") + 500))" >/dev/null 2>&1 || true
	rows=$(psql_q -c "SELECT to_char(rows_total, 'FM999,999,999,990') FROM ecsync.stream_status WHERE stream = 'an_page_views'")
	wait_for 5 pane_has " $rows" || { pane; fail "the live view did not show $rows rows of the stream"; }
	# a small terminal: the layout shrinks to it, the title stays on top
	tmux_ resize-window -t watch -x 60 -y 12
	sleep 2.5
	out=$(pane)
	echo "$out"
	assert_match '^ecsync live - ' "$(head -n 1 <<<"$out")" "the first line in 60x12"
	[ "$(awk 'length($0) > 60' <<<"$out" | wc -l)" = 0 ] || fail "lines wider than 60 columns"
	# Ctrl-C ends it
	tmux_ send-keys -t watch C-c
	wait_for 5 watch_gone || fail "Ctrl-C did not end the live view"
}
