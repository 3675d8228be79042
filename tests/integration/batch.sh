# ecsync_run_batch(): MySQL tables into PostgreSQL, against the real stack.
# Each test uses its own PostgreSQL database and MySQL database.

# shellcheck source=tests/shop_lib.sh
. "$ECSYNC_TOP/tests/shop_lib.sh"

test_full_sync_equals_mysql_row_for_row() {
	load_shop b_full 0.01 11
	pg_db b_full b_full
	psql_q -c "SELECT count(*) FROM ecsync_register_shop('src', 'shop', 'full')" >/dev/null
	assert_eq "shop.users|full|1000|1000
shop.products|full|100|100
shop.sales|full|15000|15000
shop.sales_details|full|45000|45000" \
		"$(psql_q -c "SELECT table_name, mode, rows_read, rows_written FROM ecsync_run_batch()")" "first run's summary"
	assert_shop_equal b_full shop
	assert_eq binary "$(psql_q -c "SELECT string_agg(DISTINCT copy_format, ',') FROM ecsync.run_tables")" "binary COPY for the shop"
	# a second run gives the same result; both are in the history
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_shop_equal b_full shop
	assert_eq "2|succeeded|122200" "$(psql_q -c "SELECT count(*), min(status), sum(rows_written) FROM ecsync.runs")" "history"
	# the target has MySQL's primary key
	assert_eq "PRIMARY KEY (id)" "$(psql_q -c "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'shop.sales_details'::regclass AND contype = 'p'")" "primary key"
}

# Two servers with different zones, every table in a transaction of its
# own, twice: each table reads its server's zone (it once read the zone
# after the transaction that held it was gone, and failed or shifted).
test_isolation_table_honours_each_servers_zone_run_after_run() {
	load_shop b_zone_tokyo 0.002 14 >/dev/null
	load_shop b_zone_kolkata 0.002 15 >/dev/null
	pg_db b_zone b_zone_tokyo
	local srv zone
	for srv in tokyo:Asia/Tokyo kolkata:Asia/Kolkata; do
		zone=${srv#*:} srv=${srv%%:*}
		psql_q -c "CREATE SERVER src_$srv FOREIGN DATA WRAPPER ecsync_mysql
		           OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database 'b_zone_$srv',
		                    datetime_zone '$zone'${ECSYNC_MYSQL_SERVER_TLS:-})"
		user_mapping "src_$srv"
		psql_q -c "SELECT count(*) FROM ecsync_register_shop('src_$srv', '$srv', 'incremental')" >/dev/null
	done
	local run out
	for run in 1 2; do
		out=$(psql_q -c "SELECT table_name, status, coalesce(error, '') FROM ecsync_run_batch(isolation => 'table') ORDER BY 1")
		echo "$out"
		assert_eq "kolkata.products|succeeded|
kolkata.sales|succeeded|
kolkata.sales_details|succeeded|
kolkata.users|succeeded|
tokyo.products|succeeded|
tokyo.sales|succeeded|
tokyo.sales_details|succeeded|
tokyo.users|succeeded|" "$out" "run $run: every table of both servers"
		assert_wall_clock b_zone_tokyo tokyo Asia/Tokyo
		assert_wall_clock b_zone_kolkata kolkata Asia/Kolkata
		# every other column too (the dump prints DATETIME in the session's zone)
		PGTZ=Asia/Tokyo assert_shop_equal b_zone_tokyo tokyo >/dev/null
		PGTZ=Asia/Kolkata assert_shop_equal b_zone_kolkata kolkata >/dev/null
		# the second run has changes to read
		my_q b_zone_tokyo -e "UPDATE sales SET total = total + 1, sold_at = sold_at + INTERVAL 1 HOUR WHERE id % 7 = 0"
		my_q b_zone_kolkata -e "UPDATE users SET created_at = created_at - INTERVAL 1 DAY WHERE id % 5 = 0"
	done
	assert_eq "2|succeeded|table" "$(psql_q -c "SELECT count(*), min(status), string_agg(DISTINCT isolation, ',') FROM ecsync.runs")" \
		"both runs succeeded, recorded with their isolation"
}

test_incremental_sync_catches_updates_ties_and_late_commits() {
	load_shop b_inc 0.01 12
	pg_db b_inc b_inc
	local changed_users
	changed_users=$(my_q b_inc -e "SELECT count(*) FROM users WHERE id % 50 = 0 AND occupation <> 'その他'")
	psql_q -c "SELECT count(*) FROM ecsync_register_shop('src', 'shop', 'incremental')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_shop_equal b_inc shop
	my_q b_inc -e "
		-- ordinary updates: updated_at moves to now
		UPDATE users SET occupation = 'その他' WHERE id % 50 = 0 AND occupation <> 'その他';
		UPDATE sales SET status = 'refunded' WHERE id % 1000 = 1;
		-- a row whose updated_at equals the watermark exactly
		INSERT INTO products (id, name, category, price, stock, created_at, updated_at)
		  SELECT 100001, '同時刻 ペン', 'ペン', 99.00, 1, NOW(), MAX(updated_at) FROM products;
		-- a late commit: stamped 2 minutes before the watermark, inside the look-back
		INSERT INTO sales_details (id, sale_id, product_id, quantity, unit_price, updated_at)
		  SELECT 900001, 1, 1, 1, price, (SELECT MAX(updated_at) FROM sales_details) - INTERVAL 2 MINUTE
		  FROM products WHERE id = 1;
		UPDATE sales s SET total = total + (SELECT price FROM products WHERE id = 1), updated_at = updated_at WHERE id = 1;"
	local out
	out=$(psql_q -c "SELECT table_name, mode, rows_read, rows_written FROM ecsync_run_batch()")
	echo "$out"
	assert_shop_equal b_inc shop
	# incremental reads a window, not the table
	local read_details
	read_details=$(echo "$out" | awk -F'|' '$1 == "shop.sales_details" {print $3}')
	[ "$read_details" -lt 1000 ] || fail "incremental read $read_details of 45000 sales_details rows"
	assert_contains "shop.users|incremental|" "$out" "mode"
	assert_match "shop.users\|incremental\|[0-9]+\|$changed_users$" "$(echo "$out" | grep shop.users)" "$changed_users users updated"
}

test_deletes_are_reconciled_on_request() {
	load_shop b_del 0.01 13
	pg_db b_del b_del
	psql_q -c "SELECT count(*) FROM ecsync_register_shop('src', 'shop', 'incremental')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	my_q b_del -e "SET foreign_key_checks = 0; DELETE FROM sales_details WHERE sale_id <= 10; DELETE FROM sales WHERE id <= 10"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	# incremental syncs do not see deletes ...
	assert_eq 15000 "$(psql_q -c "SELECT count(*) FROM shop.sales")" "sales before reconciling"
	# ... a reconciliation removes exactly the deleted keys
	assert_eq "shop.sales|reconcile deletes|14990|10" \
		"$(psql_q -c "SELECT table_name, mode, rows_read, rows_written FROM ecsync_reconcile_deletes('shop.sales')")" "reconcile sales"
	psql_q -c "SELECT * FROM ecsync_reconcile_deletes()" >/dev/null
	assert_shop_equal b_del shop
}

test_types_follow_the_policy() {
	my_q -e "DROP DATABASE IF EXISTS b_types; CREATE DATABASE b_types"
	my_q b_types -e "SET sql_mode = ''; SET time_zone = '+00:00';
	CREATE TABLE t (
	  id INT PRIMARY KEY, b TINYINT(1), ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT UNSIGNED,
	  mi MEDIUMINT, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
	  d DECIMAL(65,30), f FLOAT, db DOUBLE, bt BIT(10), y YEAR,
	  dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(6),
	  c CHAR(5), vc VARCHAR(20), tx TEXT, e ENUM('a','b c','d''e'), s SET('x','y z','w'),
	  j JSON, bin BINARY(4), vb VARBINARY(10), bl BLOB);
	INSERT INTO t (id) VALUES (1);
	INSERT INTO t VALUES (2, 0, -128, 0, 0, -8388608, -2147483648, 0, -9223372036854775808, 0,
	  -99999999999999999999999999999999999.999999999999999999999999999999, -1.5, -1.7976931348623157e308,
	  b'0000000000', 1901, '0000-00-00', '0000-00-00 00:00:00', '1970-01-01 00:00:01.000', '-838:59:59',
	  '', '', '', 'a', '', '{}', 0x00000000, '', '');
	INSERT INTO t VALUES (3, 1, 127, 255, 65535, 8388607, 2147483647, 4294967295, 9223372036854775807,
	  18446744073709551615, 99999999999999999999999999999999999.999999999999999999999999999999, 0.25,
	  1.7976931348623157e308, b'1111111111', 2155, '9999-12-31', '9999-12-31 23:59:59.999999',
	  '2038-01-19 03:14:07.999', '838:59:59', 'abcde', 'tab\there', 'l1\nl2\r\nback\\\\slash \"q\" ''s''',
	  'd''e', 'x,y z,w', '{\"k\": [1, \"二\", null]}', 0xFF00FF00, 0x5C0A09, 0x00);
	INSERT INTO t (id, dt, dtm, tx, bt) VALUES (4, '2026-00-15', '2026-11-00 10:00:00', '🍣🖊️ 日本語 \\\\N', b'101');"
	pg_db b_types b_types
	psql_q -c "SELECT ecsync_register_table('src', 't', 'types', target_schema => 'ty')" >/dev/null
	# both encodings give the same values: binary COPY (the default, every
	# column here has one) and COPY text
	for format in binary text; do
	[ $format = text ] && psql_q -c "DROP SCHEMA ty CASCADE" -c "ALTER DATABASE b_types SET ecsync.batch_copy_format = text"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq $format "$(psql_q -c "SELECT copy_format FROM ecsync.run_tables ORDER BY run_id DESC LIMIT 1")" "COPY format used"

	# the type of every column
	assert_eq "id integer|b boolean|ti smallint|tiu smallint|si integer|mi integer|i integer|iu bigint|bi bigint|biu numeric(20,0)|d numeric(65,30)|f real|db double precision|bt bit(10)|y smallint|dt date|dtm timestamp(6) without time zone|ts timestamp(3) with time zone|tm interval|c character varying(5)|vc character varying(20)|tx text|e text|s text[]|j jsonb|bin bytea|vb bytea|bl bytea" \
		"$(psql_q -c "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), '|' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'ty.types'::regclass AND attnum > 0")" "column types"

	local q="SELECT concat_ws('|', id, coalesce(b::text,'∅'), coalesce(ti::text,'∅'), coalesce(tiu::text,'∅'), coalesce(si::text,'∅'),
	  coalesce(mi::text,'∅'), coalesce(i::text,'∅'), coalesce(iu::text,'∅'), coalesce(bi::text,'∅'), coalesce(biu::text,'∅'),
	  coalesce(d::text,'∅'), coalesce(f::text,'∅'), coalesce(db::text,'∅'), coalesce(bt::text,'∅'), coalesce(y::text,'∅'),
	  coalesce(dt::text,'∅'), coalesce(dtm::text,'∅'), coalesce(ts::text,'∅'), coalesce(tm::text,'∅'),
	  coalesce(c,'∅'), coalesce(vc,'∅'), coalesce(encode(sha256(convert_to(tx, 'UTF8')), 'hex'),'∅'), coalesce(e,'∅'), coalesce(s::text,'∅'),
	  coalesce(j::text,'∅'), coalesce(bin::text,'∅'), coalesce(vb::text,'∅'), coalesce(bl::text,'∅')) FROM ty.types ORDER BY id"
	local got
	got=$(psql_q -c "$q")
	local tab=$'\t'
	assert_eq "1|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅" "$(sed -n 1p <<<"$got")" "all NULL"
	assert_eq "2|false|-128|0|0|-8388608|-2147483648|0|-9223372036854775808|0|-99999999999999999999999999999999999.999999999999999999999999999999|-1.5|-1.7976931348623157e+308|0000000000|1901|∅|∅|1970-01-01 00:00:01+00|-838:59:59|||$(printf '' | sha256sum | cut -c1-64)|a|{}|{}|\\x00000000|\\x|\\x" \
		"$(sed -n 2p <<<"$got")" "minimum values, zero dates to NULL"
	assert_eq "3|true|127|255|65535|8388607|2147483647|4294967295|9223372036854775807|18446744073709551615|99999999999999999999999999999999999.999999999999999999999999999999|0.25|1.7976931348623157e+308|1111111111|2155|9999-12-31|9999-12-31 23:59:59.999999|2038-01-19 03:14:07.999+00|838:59:59|abcde|tab${tab}here|$(my_q b_types -e 'SELECT SHA2(tx, 256) FROM t WHERE id = 3')|d'e|{x,\"y z\",w}|{\"k\": [1, \"二\", null]}|\\xff00ff00|\\x5c0a09|\\x00" \
		"$(sed -n 3p <<<"$got")" "maximum values, escapes, JSON, sets, binary"
	assert_eq "4|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|0000000101|∅|∅|∅|∅|∅|∅|∅|$(my_q b_types -e 'SELECT SHA2(tx, 256) FROM t WHERE id = 4')|∅|∅|∅|∅|∅|∅" \
		"$(sed -n 4p <<<"$got")" "zero-in-date to NULL, emoji text, short bit"
	done

	# a tinyint(1) that is not 0 or 1 cannot become a boolean: the run fails
	my_q b_types -e "UPDATE t SET b = 2 WHERE id = 3"
	local out
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch()" 2>&1) && fail "a tinyint(1) of 2 was accepted"
	assert_contains "neither 0 nor 1" "$out" "error names the problem"
	assert_contains 'column "b"' "$out" "error names the column"
	assert_eq t "$(psql_q -c "SELECT b FROM ty.types WHERE id = 3")" "target unchanged"
}

# A table whose every column the binary protocol hands over as the text
# protocol does (integers, dates, decimals, strings) is read with a
# prepared statement: its integers and dates come without text.  The
# values must be the text protocol's, byte for byte: long strings that
# outgrow the reader's first buffer, zero dates, the integer extremes.
stmt_executes() { my_q -e "SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'" | cut -f2; }
test_binary_protocol_reads_what_the_text_protocol_reads() {
	my_q -e "DROP DATABASE IF EXISTS b_proto; CREATE DATABASE b_proto"
	my_q b_proto -e "SET sql_mode = ''; SET time_zone = '+00:00';
	CREATE TABLE t (
	  id BIGINT UNSIGNED PRIMARY KEY, b TINYINT(1), ti TINYINT, tiu TINYINT UNSIGNED,
	  si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
	  bi BIGINT, d DECIMAL(65,30), d0 DECIMAL(20,0), dt DATE, dtm DATETIME(6), dt0 DATETIME,
	  ts TIMESTAMP(3) NULL, c CHAR(5), vc VARCHAR(300), tx MEDIUMTEXT, e ENUM('a','b c'),
	  s SET('x','y z'), bl BLOB);
	INSERT INTO t (id) VALUES (1);
	INSERT INTO t VALUES (2, 0, -128, 0, -32768, 0, 0, -2147483648, 0, -9223372036854775808,
	  -99999999999999999999999999999999999.999999999999999999999999999999, -99999999999999999999,
	  '0000-00-00', '0000-00-00 00:00:00', '2026-00-15 10:00:00', '1970-01-01 00:00:01.000',
	  '', '', '', 'a', '', '');
	INSERT INTO t VALUES (18446744073709551615, 1, 127, 255, 32767, 65535, 16777215, 2147483647,
	  4294967295, 9223372036854775807, 0.000000000000000000000000000001, 99999999999999999999,
	  '9999-12-31', '9999-12-31 23:59:59.999999', '2026-12-08 12:34:56', '2038-01-19 03:14:07.999',
	  'abcde', REPEAT('ü', 300), REPEAT('long line ', 20000), 'b c', 'x,y z', REPEAT(0x00FF, 5000));
	INSERT INTO t (id, vc, tx) VALUES (4, REPEAT('s', 65), REPEAT('二', 64));"
	pg_db b_proto b_proto
	psql_q -c "SELECT ecsync_register_table('src', 't', 'proto', target_schema => 'pr')" >/dev/null
	local q="SELECT string_agg(concat_ws('|', id, coalesce(b::text,'∅'), coalesce(ti::text,'∅'), coalesce(tiu::text,'∅'),
	  coalesce(si::text,'∅'), coalesce(siu::text,'∅'), coalesce(mi::text,'∅'), coalesce(i::text,'∅'), coalesce(iu::text,'∅'),
	  coalesce(bi::text,'∅'), coalesce(d::text,'∅'), coalesce(d0::text,'∅'), coalesce(dt::text,'∅'), coalesce(dtm::text,'∅'),
	  coalesce(dt0::text,'∅'), coalesce(ts::text,'∅'), coalesce(c,'∅'), coalesce(encode(sha256(convert_to(vc, 'UTF8')), 'hex'),'∅'), coalesce(encode(sha256(convert_to(tx, 'UTF8')), 'hex'),'∅'),
	  coalesce(e,'∅'), coalesce(s::text,'∅'), coalesce(encode(sha256(bl), 'hex'),'∅')), E'\n' ORDER BY id) FROM pr.proto"
	local before binary text
	before=$(stmt_executes)
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	[ "$(stmt_executes)" -gt "$before" ] || fail "the run did not read MySQL with a prepared statement" || return 1
	binary=$(psql_q -c "$q")
	psql_q -c "DROP SCHEMA pr CASCADE" -c "ALTER DATABASE b_proto SET ecsync.batch_binary_protocol = off" >/dev/null
	before=$(stmt_executes)
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "$before" "$(stmt_executes)" "with ecsync.batch_binary_protocol off, no prepared statement" || return 1
	text=$(psql_q -c "$q")
	assert_eq "$text" "$binary" "the binary protocol's rows equal the text protocol's" || return 1
	# and both are MySQL's values, not merely equal to each other
	assert_eq "∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅|∅" "$(sed -n 1p <<<"$binary" | cut -d'|' -f2-)" "all NULL"
	assert_eq "2|false|-128|0|-32768|0|0|-2147483648|0|-9223372036854775808|-99999999999999999999999999999999999.999999999999999999999999999999|-99999999999999999999|∅|∅|∅|1970-01-01 00:00:01+00" \
		"$(sed -n 2p <<<"$binary" | cut -d'|' -f1-16)" "minimum values, zero and zero-in-date to NULL"
	assert_eq "18446744073709551615|true|127|255|32767|65535|16777215|2147483647|4294967295|9223372036854775807|0.000000000000000000000000000001|99999999999999999999|9999-12-31|9999-12-31 23:59:59.999999|2026-12-08 12:34:56|2038-01-19 03:14:07.999+00|abcde" \
		"$(sed -n 4p <<<"$binary" | cut -d'|' -f1-17)" "maximum values"
	assert_eq "$(my_q b_proto -e "SELECT concat_ws('|', SHA2(vc, 256), SHA2(tx, 256), e, '{x,\"y z\"}', SHA2(bl, 256)) FROM t WHERE id = 18446744073709551615")" \
		"$(sed -n 4p <<<"$binary" | cut -d'|' -f18-)" "long strings and bytes whole, enum, set"
	assert_eq "$(my_q b_proto -e "SELECT concat_ws('|', SHA2(vc, 256), SHA2(tx, 256)) FROM t WHERE id = 4")" \
		"$(sed -n 3p <<<"$binary" | cut -d'|' -f18-19)" "strings just past the first buffer"
	# a tinyint(1) of 2 fails the run in the binary protocol as in the text one
	psql_q -c "ALTER DATABASE b_proto RESET ecsync.batch_binary_protocol" >/dev/null
	my_q b_proto -e "UPDATE t SET b = 2 WHERE id = 2"
	local out
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch()" 2>&1) && fail "a tinyint(1) of 2 was accepted"
	assert_contains "neither 0 nor 1" "$out" "error names the problem" &&
		assert_contains 'column "b"' "$out" "error names the column"
}

# A failed run's error comes back as PostgreSQL's own do: the worker's
# message in the primary message, its detail and hint in DETAIL and HINT
# (none of them inside the message), and ecsync.runs keeps them apart.
test_a_failed_run_raises_its_message_detail_and_hint_apart() {
	local out err
	my_q -e "DROP DATABASE IF EXISTS b_parts; CREATE DATABASE b_parts"
	my_q b_parts -e "CREATE TABLE m (id INT PRIMARY KEY, a INT, b INT); INSERT INTO m VALUES (1, 1, 1)"
	pg_db b_parts b_parts
	psql_q -c "CREATE TABLE m (id int PRIMARY KEY, a int)"
	psql_q -c "SELECT ecsync_register_table('src', 'm')" >/dev/null
	out=$(psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=default -c "SELECT * FROM ecsync_run_batch()" 2>&1) &&
		fail "a target without MySQL's column b was synced: $out"
	err=$(grep '^ERROR:' <<<"$out")
	assert_contains 'target table public.m has no column "b", which MySQL' "$err" "the message names the column"
	[[ $err != *[Hh]int* && $err != *"Add the column"* ]] || fail "the hint is inside the message: $err"
	assert_contains "Add the column, leave it out of the sync with exclude_columns" "$(grep '^HINT:' <<<"$out")" \
		"the worker's hint is the HINT: $out"
	assert_contains "Every target table is as it was before the run." "$(grep '^DETAIL:' <<<"$out")" "the DETAIL"
	assert_eq "f" "$(psql_q -c "SELECT error LIKE '%Hint%' FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" \
		"ecsync.runs.error is the message alone"
	assert_contains "Add the column" "$(psql_q -c "SELECT error_hint FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" \
		"ecsync.runs.error_hint"
	assert_eq "0" "$(psql_q -c "SELECT count(*) FROM m")" "the target is as it was"
}

test_one_bad_table_fails_the_whole_run_atomically() {
	my_q -e "DROP DATABASE IF EXISTS b_atomic; CREATE DATABASE b_atomic"
	my_q b_atomic -e "CREATE TABLE good (id INT PRIMARY KEY, v VARCHAR(10));
	                  INSERT INTO good VALUES (1, 'old'), (2, 'old');
	                  CREATE TABLE bad (id INT PRIMARY KEY, flag TINYINT(1));
	                  INSERT INTO bad VALUES (1, 1);"
	pg_db b_atomic b_atomic
	psql_q -c "SELECT ecsync_register_table('src', 'good'), ecsync_register_table('src', 'bad')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	my_q b_atomic -e "UPDATE good SET v = 'new'; INSERT INTO good VALUES (3, 'new'); UPDATE bad SET flag = 7"
	! psql_q -c "SELECT * FROM ecsync_run_batch()" 2>/dev/null || fail "run with a bad value succeeded"
	# good was synced first in the failed run, and is still as it was
	assert_eq "1|old,2|old" "$(psql_q -c "SELECT id || '|' || v FROM good ORDER BY id" | paste -sd,)" "good unchanged"
	assert_contains "neither 0 nor 1" "$(psql_q -c "SELECT error FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" "error recorded"
	assert_contains "neither 0 nor 1" "$(psql_q -c "SELECT last_error FROM ecsync.status WHERE table_name = 'public.bad'")" "status shows the error"
	my_q b_atomic -e "UPDATE bad SET flag = 0"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "1|new,2|new,3|new" "$(psql_q -c "SELECT id || '|' || v FROM good ORDER BY id" | paste -sd,)" "good synced after the fix"
	assert_eq "" "$(psql_q -c "SELECT last_error FROM ecsync.status WHERE table_name = 'public.bad'")" "status clear after success"
}

test_hostile_identifiers_on_both_sides() {
	my_q -e 'DROP DATABASE IF EXISTS `we"ird-db`; CREATE DATABASE `we"ird-db`'
	my_q 'we"ird-db' -e 'CREATE TABLE `Order Items` (`select` INT PRIMARY KEY, `Mixed Case` VARCHAR(10),
	                     `quote"col` INT, `back``tick` INT, `updated at` DATETIME(6));
	                     INSERT INTO `Order Items` VALUES (1, "a", 10, 100, NOW(6)), (2, "b", 20, 200, NOW(6))'
	pg_db b_ident 'we"ird-db'
	psql_q -c "SELECT ecsync_register_table('src', 'Order Items', target_schema => 'Weird \"Schema\"',
	           mode => 'incremental', cursor_column => 'updated at')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	my_q 'we"ird-db' -e 'UPDATE `Order Items` SET `Mixed Case` = "changed", `updated at` = NOW(6) WHERE `select` = 2'
	psql_q -c "SELECT * FROM ecsync_run_batch('Weird \"Schema\".Order Items')" >/dev/null
	assert_eq "1|a|10|100,2|changed|20|200" \
		"$(psql_q -c 'SELECT concat_ws($$|$$, "select", "Mixed Case", "quote""col", "back`tick") FROM "Weird ""Schema"""."Order Items" ORDER BY 1' | paste -sd,)" \
		"rows under hostile names"
}

test_secrets_never_in_errors_history_or_log() {
	local pw log
	pw=$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")
	my_q -e "DROP DATABASE IF EXISTS b_sec; CREATE DATABASE b_sec; CREATE TABLE b_sec.t (id INT PRIMARY KEY)"
	pg_db b_sec b_sec
	psql_q -c "ALTER USER MAPPING FOR CURRENT_USER SERVER src OPTIONS (SET password 'wrong-Pa55word')"
	psql_q -c "SELECT ecsync_register_table('src', 't')" >/dev/null
	local out
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch()" 2>&1) && fail "wrong password accepted"
	assert_contains "Access denied" "$out" "MySQL's refusal is reported"
	[[ $out != *wrong-Pa55word* ]] || fail "password in the error"
	[[ "$(psql_q -c "SELECT error FROM ecsync.runs")" != *wrong-Pa55word* ]] || fail "password in ecsync.runs"
	log=$(readlink -f "$ECSYNC_RUN_DIR/pg")/postgresql.log
	! grep -q -e wrong-Pa55word -e "$pw" "$log" || fail "a password is in the server log"
}

# ---- a bigger shop for the tests that interrupt a run ----

big_shop() {
	if [ "$(my_q -e "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'b_big'")" != 4 ]; then
		load_shop b_big 0.3 14
	fi
	pg_db "$1" b_big
	psql_q -c "SELECT ecsync_register_table('src', t, target_schema => 'shop') FROM unnest(ARRAY['users','sales','sales_details']) t" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
}

target_fingerprint() {
	psql_q -c "SELECT (SELECT count(*) || ':' || sum(id) FROM shop.users) || '/' ||
	                  (SELECT count(*) || ':' || sum(id) FROM shop.sales) || '/' ||
	                  (SELECT count(*) || ':' || sum(id) || ':' || sum(quantity) FROM shop.sales_details)"
}

no_batch_worker() {
	[ -z "$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'ecsync batch'")" ]
}

copying_details() {
	[ "$(psql_q -c "SELECT coalesce(max(tuples_processed), 0) > 10000 FROM ecsync.progress WHERE copying_into::text = 'shop.sales_details'")" = t ]
}

test_cancel_mid_run_rolls_back_and_is_prompt() {
	big_shop b_cancel
	local before caller_pid t0 t1 out
	before=$(target_fingerprint)
	my_q b_big -e "UPDATE sales_details SET quantity = quantity + 1 WHERE id % 7 = 0"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >"$ECSYNC_RUN_DIR/cancel.out" 2>&1 &
	local bg=$!
	wait_for 30 copying_details || fail "the run never showed progress in ecsync.progress"
	psql_q -c "SELECT activity FROM ecsync.progress"
	caller_pid=$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT * FROM ecsync_run_batch()%' AND backend_type = 'client backend'")
	t0=$(date +%s%N)
	psql_q -c "SELECT pg_cancel_backend($caller_pid)" >/dev/null
	wait $bg || true
	wait_for 10 no_batch_worker ||
		fail "the batch worker outlived the cancel"
	t1=$(date +%s%N)
	echo "cancel took $(((t1 - t0) / 1000000)) ms"
	[ $(((t1 - t0) / 1000000)) -lt 3000 ] || fail "cancel took $(((t1 - t0) / 1000000)) ms"
	assert_contains "canceling statement due to user request" "$(cat "$ECSYNC_RUN_DIR/cancel.out")" "caller's error"
	assert_eq "failed" "$(psql_q -c "SELECT status FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" "run recorded as failed"
	assert_contains "canceling statement" "$(psql_q -c "SELECT error FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" "cancel recorded"
	assert_eq "$before" "$(target_fingerprint)" "targets unchanged"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	[ "$before" != "$(target_fingerprint)" ] || fail "the next run did not sync the changes"
	my_q b_big -e "UPDATE sales_details SET quantity = quantity - 1 WHERE id % 7 = 0"
}

test_second_concurrent_run_is_refused_with_reason() {
	big_shop b_conc
	psql_q -c "SELECT * FROM ecsync_run_batch()" >"$ECSYNC_RUN_DIR/conc.out" 2>&1 &
	local bg=$! out
	wait_for 30 copying_details || fail "the first run never showed progress"
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch('shop.sales_details')" 2>&1) && fail "a second concurrent run was accepted"
	echo "$out"
	assert_contains "is being synced by another ecsync run" "$out" "reason"
	assert_match "It is run [0-9]+ of role [a-z_]+ \(worker pid [0-9]+" "$out" "names the other run"
	wait $bg || fail "the first run failed: $(cat "$ECSYNC_RUN_DIR/conc.out")"
	assert_eq "succeeded" "$(psql_q -c "SELECT status FROM ecsync.runs WHERE only_table IS NULL ORDER BY run_id DESC LIMIT 1")" "first run"
}

test_mysql_killed_mid_run_leaves_targets_unchanged() {
	big_shop b_kill
	local before out mypid
	before=$(target_fingerprint)
	my_q b_big -e "UPDATE users SET age = age WHERE id = 1; DELETE FROM sales_details WHERE id > 1000000"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >"$ECSYNC_RUN_DIR/kill.out" 2>&1 &
	local bg=$!
	wait_for 30 copying_details || fail "the run never showed progress"
	mypid=$(cat "$(readlink -f "$ECSYNC_RUN_DIR/mysql")/mysqld.pid")
	kill -9 "$mypid"
	wait $bg && fail "the run succeeded although MySQL died"
	out=$(cat "$ECSYNC_RUN_DIR/kill.out")
	echo "$out"
	assert_contains "failed" "$out" "caller sees the failure"
	assert_eq "$before" "$(target_fingerprint)" "targets unchanged"
	assert_match "MySQL|server" "$(psql_q -c "SELECT error FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" "error recorded"
	# bring MariaDB back (only it: the harness starts what is down)
	stack_start
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "$(my_q b_big -e "SELECT count(*) FROM sales_details")" "$(psql_q -c "SELECT count(*) FROM shop.sales_details")" "next run syncs"
	load_shop b_big 0.3 14 >/dev/null 2>&1	# restore the shared big shop
}

cron_run_succeeded() {
	[ "$(psql_q -c "SELECT count(*) FROM ecsync.runs WHERE status = 'succeeded'")" -ge 1 ]
}

cron_job_succeeded() {
	[ "$(psql_q -c "SELECT status FROM cron.job_run_details ORDER BY runid DESC LIMIT 1")" = succeeded ]
}

test_pg_cron_runs_the_batch_on_schedule() {
	# pg_cron runs jobs in cron.database_name (ecsync): use that database
	export PGDATABASE=ecsync PGTZ=UTC
	my_q -e "DROP DATABASE IF EXISTS b_cron; CREATE DATABASE b_cron;
	         CREATE TABLE b_cron.t (id INT PRIMARY KEY, v INT); INSERT INTO b_cron.t VALUES (1, 1), (2, 2)"
	psql_q -c "DROP EXTENSION IF EXISTS ecsync CASCADE" -c "DROP SCHEMA IF EXISTS cronsync CASCADE" \
		-c "CREATE EXTENSION ecsync" -c "CREATE EXTENSION IF NOT EXISTS pg_cron"
	psql_q -c "CREATE SERVER src FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database 'b_cron'${ECSYNC_MYSQL_SERVER_TLS:-})"
	user_mapping src
	psql_q -c "SELECT ecsync_register_table('src', 't', target_schema => 'cronsync')" >/dev/null
	psql_q -c "SELECT cron.schedule('ecsync-test', '* * * * *', 'SELECT ecsync_run_batch()')" >/dev/null
	trap 'psql_q -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = \$\$ecsync-test\$\$" >/dev/null 2>&1' EXIT
	# pg_cron 1.4 fires at the start of each minute
	wait_for 75 cron_run_succeeded ||
		fail "pg_cron did not run ecsync_run_batch() within 75 s: $(psql_q -c "SELECT status, return_message FROM cron.job_run_details")"
	assert_eq 2 "$(psql_q -c "SELECT count(*) FROM cronsync.t")" "rows synced by the scheduled run"
	wait_for 10 cron_job_succeeded ||
		fail "cron.job_run_details: $(psql_q -c "SELECT status, return_message FROM cron.job_run_details")"
	psql_q -c "SELECT cron.unschedule('ecsync-test')" >/dev/null
	psql_q -c "DROP EXTENSION ecsync CASCADE" -c "DROP SCHEMA cronsync CASCADE"
}

# tls_server NAME MODE [CA]: a source for MySQL user ecsync_tls, who must use TLS
tls_server() {
	psql_q -c "CREATE SERVER $1 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host '127.0.0.1',
	           port '$ECSYNC_MYSQL_PORT', database 'b_tls', ssl_mode '$2' ${3:+, ssl_ca '$3'})"
	psql_q <<-SQL
	CREATE USER MAPPING FOR CURRENT_USER SERVER $1 OPTIONS (user 'ecsync_tls', password 'tls-Pa55')
	SQL
}

test_tls_when_the_server_options_ask_for_it() {
	local other out
	my_q -e "DROP DATABASE IF EXISTS b_tls; CREATE DATABASE b_tls;
	         CREATE TABLE b_tls.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO b_tls.t VALUES (1, 'secret');
	         DROP USER IF EXISTS 'ecsync_tls'@'127.0.0.1';
	         CREATE USER 'ecsync_tls'@'127.0.0.1' IDENTIFIED BY 'tls-Pa55' REQUIRE SSL;
	         GRANT SELECT ON b_tls.* TO 'ecsync_tls'@'127.0.0.1'"
	pg_db b_tls b_tls
	# verified TLS: the CA of the stack, the host name in the certificate
	tls_server tls_ok verify_identity "$ECSYNC_MYSQL_SSL_CA"
	psql_q -c "SELECT ecsync_register_table('tls_ok', 't', 't_tls')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch('t_tls')" >/dev/null
	assert_eq "1|secret" "$(psql_q -c "SELECT id || '|' || v FROM t_tls")" "rows over verified TLS"
	# without TLS the MySQL user is refused
	tls_server no_tls disabled
	psql_q -c "SELECT ecsync_register_table('no_tls', 't', 't_plain')" >/dev/null
	# (MariaDB refuses the account itself; MySQL's account uses
	# caching_sha2_password, which ecsync refuses to answer in clear first)
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch('t_plain')" 2>&1 || true)
	if [ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ]; then
		assert_contains "asked for an authentication plugin that ecsync refuses" "$out" "plain connection refused"
		assert_contains "caching_sha2_password and sha256_password need ssl_mode verify_ca or verify_identity" "$out" "the refusal says what to set"
	else
		assert_contains "Access denied" "$out" "plain connection refused"
	fi
	assert_eq t "$(psql_q -c "SELECT to_regclass('t_plain') IS NULL")" "nothing created without TLS"
	# a certificate from another CA is refused when verification is asked for
	other=$(mktemp -d /tmp/ecsync-otherca-XXXXXX)
	chmod 755 "$other"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj "/CN=someone else" -keyout "$other/key.pem" -out "$other/ca.pem" 2>/dev/null
	chmod 644 "$other/ca.pem"
	tls_server wrong_ca verify_ca "$other/ca.pem"
	psql_q -c "SELECT ecsync_register_table('wrong_ca', 't', 't_wrong')" >/dev/null
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch('t_wrong')" 2>&1 || true)
	echo "$out"
	assert_match "could not connect to MySQL server" "$out" "untrusted certificate refused"
	assert_eq t "$(psql_q -c "SELECT to_regclass('t_wrong') IS NULL")" "nothing created from an unverified server"
	rm -rf "$other"
}

test_future_dated_row_does_not_hide_later_changes() {
	my_q -e "DROP DATABASE IF EXISTS b_future; CREATE DATABASE b_future"
	my_q b_future -e "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10), updated_at DATETIME(6) NOT NULL);
	                  INSERT INTO t VALUES (1, 'a', NOW(6)), (2, 'b', '2099-01-01 00:00:00')"
	pg_db b_future b_future
	psql_q -c "SELECT ecsync_register_table('src', 't', mode => 'incremental', lookback => '1 second')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	[[ $(psql_q -c "SELECT watermark FROM ecsync.sync_tables") < 2099 ]] || fail "the watermark jumped to the future row"
	sleep 1.2
	my_q b_future -e "UPDATE t SET v = 'a2', updated_at = NOW(6) WHERE id = 1"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "1|a2,2|b" "$(psql_q -c "SELECT id || '|' || v FROM t ORDER BY id" | paste -sd,)" "a change after a future-dated row arrives"
}

test_integer_cursor_rereads_the_last_runs_window() {
	my_q -e "DROP DATABASE IF EXISTS b_intcur; CREATE DATABASE b_intcur"
	my_q b_intcur -e "CREATE TABLE t (id INT PRIMARY KEY, version BIGINT NOT NULL);
	                  INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)"
	pg_db b_intcur b_intcur
	psql_q -c "SELECT ecsync_register_table('src', 't', mode => 'incremental', cursor_column => 'version')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	my_q b_intcur -e "INSERT INTO t VALUES (6, 6)"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	# a transaction that took version 5 commits after version 6 was synced
	my_q b_intcur -e "INSERT INTO t VALUES (5, 5)"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "1,2,3,5,6" "$(psql_q -c "SELECT id FROM t ORDER BY id" | paste -sd,)" "a late commit below the watermark arrives"
}

test_an_older_snapshot_never_overwrites_a_newer_sync() {
	my_q -e "DROP DATABASE IF EXISTS b_order; CREATE DATABASE b_order"
	my_q b_order -e "CREATE VIEW a_slow AS SELECT 1 AS id, SLEEP(4) AS s;
	                 CREATE TABLE x (id INT PRIMARY KEY, v VARCHAR(10), updated_at DATETIME(6) NOT NULL DEFAULT NOW(6));
	                 INSERT INTO x (id, v) VALUES (1, 'old')"
	pg_db b_order b_order
	psql_q -c "SELECT ecsync_register_table('src', 'a_slow')" >/dev/null
	psql_q -c "SELECT ecsync_register_table('src', 'x', mode => 'incremental')" >/dev/null
	# run A takes its snapshot, then spends 4 s on a_slow ...
	psql_q -c "SELECT table_name, status FROM ecsync_run_batch()" >"$ECSYNC_RUN_DIR/order.out" 2>&1 &
	local a=$!
	sleep 1.5
	# ... while x changes and run B syncs it from a newer snapshot
	my_q b_order -e "UPDATE x SET v = 'new', updated_at = NOW(6)"
	psql_q -c "SELECT * FROM ecsync_run_batch('x')" >/dev/null
	assert_eq new "$(psql_q -c "SELECT v FROM x")" "run B synced x"
	wait $a || fail "run A failed: $(cat "$ECSYNC_RUN_DIR/order.out")"
	cat "$ECSYNC_RUN_DIR/order.out"
	assert_eq new "$(psql_q -c "SELECT v FROM x")" "run A's older snapshot did not overwrite x"
	assert_contains "public.x|skipped" "$(cat "$ECSYNC_RUN_DIR/order.out")" "run A says it skipped x"
	local wm
	wm=$(psql_q -c "SELECT watermark FROM ecsync.sync_tables WHERE target_table = 'x'")
	assert_eq "$(my_q b_order -e "SELECT MAX(updated_at) FROM x")" "$wm" "the watermark is run B's"
}

test_a_run_blocked_by_its_callers_lock_fails_instead_of_hanging() {
	my_q -e "DROP DATABASE IF EXISTS b_lock; CREATE DATABASE b_lock"
	my_q b_lock -e "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2)"
	pg_db b_lock b_lock
	psql_q -c "SELECT ecsync_register_table('src', 't')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	my_q b_lock -e "INSERT INTO t VALUES (3)"
	local out t0 t1
	t0=$(date +%s)
	# the transaction block read the target: the worker's TRUNCATE waits for it
	out=$(timeout 60 psql -X -q -A -t -v ON_ERROR_STOP=1 -c "BEGIN" -c "SELECT count(*) FROM t" -c "SELECT * FROM ecsync_run_batch()" -c "COMMIT" 2>&1) &&
		fail "the run succeeded: $out"
	t1=$(date +%s)
	echo "$out"
	[ $((t1 - t0)) -lt 20 ] || fail "the run hung for $((t1 - t0)) s"
	assert_contains "would wait for ever" "$out" "the error says why"
	assert_contains "outside a transaction block" "$out" "the error says what to do"
	wait_for 10 no_batch_worker || fail "the batch worker outlived the error"
	assert_eq 2 "$(psql_q -c "SELECT count(*) FROM t")" "target unchanged"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq 3 "$(psql_q -c "SELECT count(*) FROM t")" "the next run syncs"
}

test_cancel_reaches_a_worker_blocked_in_mysql() {
	my_q -e "DROP DATABASE IF EXISTS b_slow; CREATE DATABASE b_slow"
	my_q b_slow -e "CREATE VIEW v AS SELECT 1 AS id, SLEEP(120) AS s"
	pg_db b_slow b_slow
	psql_q -c "SELECT ecsync_register_table('src', 'v')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >"$ECSYNC_RUN_DIR/slow.out" 2>&1 &
	local bg=$! caller t0 t1
	sleep 2
	caller=$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE datname = 'b_slow' AND query LIKE 'SELECT * FROM ecsync_run_batch()%' AND backend_type = 'client backend'")
	[ -n "$caller" ] || fail "no caller found"
	t0=$(date +%s%N)
	psql_q -c "SELECT pg_cancel_backend($caller)" >/dev/null
	wait $bg || true
	wait_for 10 no_batch_worker || fail "the batch worker, inside a MySQL query, outlived the cancel"
	t1=$(date +%s%N)
	echo "cancel took $(((t1 - t0) / 1000000)) ms"
	[ $(((t1 - t0) / 1000000)) -lt 5000 ] || fail "cancel took $(((t1 - t0) / 1000000)) ms"
	wait_for 5 run_failed || fail "run not recorded as failed: $(psql_q -c "SELECT status, error FROM ecsync.runs")"
	assert_contains "canceling statement" "$(psql_q -c "SELECT error FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" "cancel recorded"
}
run_failed() { [ "$(psql_q -c "SELECT status FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" = failed ]; }


test_full_sync_builds_indexes_after_the_load() {
	my_q -e "DROP DATABASE IF EXISTS b_idx; CREATE DATABASE b_idx"
	my_q b_idx -e "CREATE TABLE t (id INT, code VARCHAR(10), n INT);
	               INSERT INTO t SELECT seq, CONCAT('c', seq), seq % 7 FROM ($(seq_sql 5000)) s"
	pg_db b_idx b_idx
	psql_q -c "SELECT ecsync_register_table('src', 't', key_columns => '{id}')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	# the user's own indexes
	psql_q -c "CREATE UNIQUE INDEX t_code ON t (code); CREATE INDEX t_n ON t (n) WHERE n > 3"
	local oids
	oids=$(psql_q -c "SELECT string_agg(indexrelid::text, ',' ORDER BY indexrelid) FROM pg_index WHERE indrelid = 't'::regclass")
	my_q b_idx -e "UPDATE t SET n = n + 1"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "$oids" "$(psql_q -c "SELECT string_agg(indexrelid::text, ',' ORDER BY indexrelid) FROM pg_index WHERE indrelid = 't'::regclass")" "the same indexes"
	assert_eq "true|true|true" "$(psql_q -c "SELECT bool_and(indisvalid) || '|' || bool_and(indisready) || '|' || bool_and(indislive) FROM pg_index WHERE indrelid = 't'::regclass")" "indexes valid"
	# the indexes hold every row: index scans agree with the heap
	assert_eq "$(my_q b_idx -e "SELECT COUNT(*) FROM t WHERE n > 3")" \
		"$(psql_q -c "SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM t WHERE n > 3")" "partial index"
	assert_eq "c4999" "$(psql_q -c "SET enable_seqscan = off; SELECT code FROM t WHERE code = 'c4999'")" "unique index"
	assert_eq "$(psql_q -c "SELECT count(*) FROM t")" "$(psql_q -c "SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM t WHERE id > 0")" "primary key"
	# a duplicate key still fails the run, and the target stays as it was
	my_q b_idx -e "INSERT INTO t VALUES (7, 'dup', 1)"
	local out
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch()" 2>&1) && fail "a duplicate key was loaded"
	assert_contains "Key (id)=(7)" "$out" "the error names the duplicate"
	assert_eq 5000 "$(psql_q -c "SELECT count(*) FROM t")" "target unchanged"
}

# Foreign-key cascades leave an incremental child's cursor as it was, so
# its runs do not see them: the registration says so, and
# ecsync_reconcile_deletes() repairs them, the rows a cascade deleted and
# the columns SET NULL and ON UPDATE CASCADE changed.
test_incremental_children_of_cascades_are_warned_and_reconciled() {
	local out
	my_q -e "DROP DATABASE IF EXISTS b_fk; CREATE DATABASE b_fk"
	my_q b_fk -e "CREATE TABLE p (id INT PRIMARY KEY);
		CREATE TABLE c (id INT PRIMARY KEY, pid INT, updated_at DATETIME(6) NOT NULL DEFAULT '2020-01-01',
		  FOREIGN KEY (pid) REFERENCES p (id) ON DELETE CASCADE ON UPDATE CASCADE);
		CREATE TABLE n (id INT PRIMARY KEY, pid INT, updated_at DATETIME(6) NOT NULL DEFAULT '2020-01-01',
		  FOREIGN KEY (pid) REFERENCES p (id) ON DELETE SET NULL);
		INSERT INTO p VALUES (1), (2), (3);
		INSERT INTO c (id, pid) VALUES (10, 1), (11, 2), (12, 3);
		INSERT INTO n (id, pid) VALUES (20, 1), (21, 2)"
	pg_db b_fk b_fk
	out=$(psql_q -c "SELECT ecsync_register_table('src', 'c', mode => 'incremental')" 2>&1 >/dev/null)
	assert_contains "MySQL changes rows of b_fk.c by cascade (ON DELETE CASCADE, ON UPDATE CASCADE of foreign key" "$out" \
		"the registration warns"
	assert_contains "ecsync_reconcile_deletes()" "$out" "and says what repairs it"
	out=$(psql_q -c "SELECT ecsync_register_table('src', 'n', mode => 'incremental')" 2>&1 >/dev/null)
	assert_contains "(ON DELETE SET NULL of foreign key" "$out" "a SET NULL child is warned"
	out=$(psql_q -c "SELECT ecsync_register_table('src', 'p', mode => 'full')" 2>&1 >/dev/null)
	assert_eq "" "$out" "a parent is not warned"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	my_q b_fk -e "DELETE FROM p WHERE id = 1; UPDATE p SET id = 30 WHERE id = 3"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	psql_q -c "SELECT * FROM ecsync_reconcile_deletes()" >/dev/null
	assert_eq "$(my_q b_fk -e "SELECT CONCAT_WS('|', id, pid) FROM c ORDER BY id" | paste -sd,)" \
		"$(psql_q -c "SELECT concat_ws('|', id, pid) FROM c ORDER BY id" | paste -sd,)" "c after the reconciliation"
	assert_eq "$(my_q b_fk -e "SELECT CONCAT_WS('|', id, pid) FROM n ORDER BY id" | paste -sd,)" \
		"$(psql_q -c "SELECT concat_ws('|', id, pid) FROM n ORDER BY id" | paste -sd,)" "n after the reconciliation"
	assert_eq "11|2,12|30" "$(psql_q -c "SELECT concat_ws('|', id, pid) FROM c ORDER BY id" | paste -sd,)" "c's rows"
}
