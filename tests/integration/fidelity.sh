# Fidelity and per-table operation of the batch sync, against the real
# stack: every value of the type policy exact (random values, compared as
# bit patterns, digits and instants with what an independent generator
# says), columns chosen at registration, pre-created targets honoured,
# spatial types, per-table isolation, registration checked against MySQL.

# shellcheck source=tests/shop_lib.sh
. "$ECSYNC_TOP/tests/shop_lib.sh"

# ecsync-ingest's TLS settings for the stack's server: MySQL's accounts use
# caching_sha2_password, which the ingester answers only over verified TLS
ingest_tls=()
if [ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ]; then
	ingest_tls=(-X mysql.ssl-mode=verify_identity -X "mysql.ssl-ca=$ECSYNC_MYSQL_SSL_CA")
fi

# the canonical form of fidelity_values.py's rows, read from table $1
fidelity_query() {
	echo "SELECT concat_ws('|', id, encode(float4send(f), 'hex'), encode(float8send(d), 'hex'),
	  dc::text, biu::text, bi, iu, si, tiu, bt::text, y, dt::text,
	  to_char(dtm, 'YYYY-MM-DD HH24:MI:SS.US'), (extract(epoch FROM ts) * 1000000)::bigint,
	  (extract(epoch FROM tm) * 1000000)::bigint, encode(convert_to(s, 'UTF8'), 'hex'),
	  encode(bl, 'hex')) FROM $1 ORDER BY id"
}

test_every_value_round_trips_exactly() {
	local dir=$ECSYNC_RUN_DIR/fidelity seed=${ECSYNC_FIDELITY_SEED:-$RANDOM}
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "seed $seed (ECSYNC_FIDELITY_SEED=$seed reproduces it)"
	python3 "$ECSYNC_TOP/tests/integration/fidelity_values.py" "$seed" 3000 "$dir/v.sql" "$dir/expected"
	my_q -e "DROP DATABASE IF EXISTS f_vals; CREATE DATABASE f_vals"
	my_q f_vals -e "CREATE TABLE v (id INT PRIMARY KEY, f FLOAT, d DOUBLE, dc DECIMAL(65,30),
	  biu BIGINT UNSIGNED, bi BIGINT, iu INT UNSIGNED, si SMALLINT, tiu TINYINT UNSIGNED, bt BIT(64),
	  y YEAR, dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6),
	  s VARCHAR(100) CHARACTER SET utf8mb4, bl BLOB)"
	my_q f_vals <"$dir/v.sql"
	assert_eq 3000 "$(my_q f_vals -e "SELECT count(*) FROM v")" "rows in MySQL"
	pg_db f_vals f_vals
	psql_q -c "SELECT ecsync_register_table('src', 'v', target_schema => 'fv')" >/dev/null
	local format
	for format in binary text; do
		[ $format = text ] && psql_q -c "ALTER DATABASE f_vals SET ecsync.batch_copy_format = text"
		psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
		assert_eq $format "$(psql_q -c "SELECT copy_format FROM ecsync.run_tables ORDER BY run_id DESC LIMIT 1")" "COPY format"
		psql_q -c "$(fidelity_query fv.v)" >"$dir/batch.$format"
		diff "$dir/expected" "$dir/batch.$format" | head -5
		cmp -s "$dir/expected" "$dir/batch.$format" || fail "batch ($format COPY): values differ from what MySQL was given"
	done

	# the ingester's snapshot archive, loaded back, holds the same values
	local ingest_bin=$ECSYNC_TOP/ingester/ecsync-ingest
	ECSYNC_MYSQL_PASSWORD=$(cat "$ECSYNC_MYSQL_PASSWORD_FILE") "$ingest_bin" --snapshot -q -d "$dir/archive" \
		-b "$ECSYNC_KAFKA_BROKERS" -X mysql.host=127.0.0.1 -X "mysql.port=$ECSYNC_MYSQL_PORT" \
		-X mysql.user=ecsync -X mysql.database=f_vals -X tables=v "${ingest_tls[@]}" || fail "snapshot failed"
	"$ingest_bin" --load-script -d "$dir/archive" --snapshot-id latest --schema fv_archive >"$dir/load.sql"
	psql_q -f "$dir/load.sql" >/dev/null
	psql_q -c "$(fidelity_query fv_archive.v)" >"$dir/archive.txt"
	diff "$dir/expected" "$dir/archive.txt" | head -5
	cmp -s "$dir/expected" "$dir/archive.txt" || fail "ingester snapshot: values differ from what MySQL was given"
}

test_float_examples_from_the_report_are_exact() {
	my_q -e "DROP DATABASE IF EXISTS f_float; CREATE DATABASE f_float"
	my_q f_float -e "CREATE TABLE t (id INT PRIMARY KEY, f FLOAT, f72 FLOAT(7,2));
	  INSERT INTO t VALUES (1, 123456.789, 12345.67), (2, 16777217, -0.01), (3, 3.14159265, NULL),
	                       (4, 3.4028234663852886e38, 99999.99)"
	pg_db f_float f_float
	psql_q -c "SELECT ecsync_register_table('src', 't')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	# PostgreSQL prints a real with the shortest text that reads back exactly
	assert_eq "1|123456.79|12345.67,2|1.6777216e+07|-0.01,3|3.1415927|,4|3.4028235e+38|99999.99" \
		"$(psql_q -c "SELECT concat_ws('|', id, f, coalesce(f72::text, '')) FROM t ORDER BY id" | paste -sd,)" \
		"FLOAT values, single precision, exact"
}

test_spatial_columns_arrive_as_wkb() {
	my_q -e "DROP DATABASE IF EXISTS f_geo; CREATE DATABASE f_geo"
	my_q f_geo -e "CREATE TABLE places (id INT PRIMARY KEY, p POINT, area POLYGON, g GEOMETRY NULL);
	  INSERT INTO places VALUES
	    (1, ST_GeomFromText('POINT(139.7671 35.6812)'),
	        ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))'), NULL),
	    (2, ST_GeomFromText('POINT(-0.1 51.5)'),
	        ST_GeomFromText('POLYGON((1 1, 2 1, 2 2, 1 1))'), ST_GeomFromText('LINESTRING(0 0, 1 1, 2 4)'))"
	pg_db f_geo f_geo
	psql_q -c "SELECT ecsync_register_table('src', 'places')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "p bytea|area bytea|g bytea" \
		"$(psql_q -c "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), '|' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'places'::regclass AND attnum > 1")" \
		"spatial columns are bytea"
	assert_eq "$(my_q f_geo -e "SELECT CONCAT_WS('|', id, LOWER(HEX(ST_AsBinary(p))), LOWER(HEX(ST_AsBinary(area))), IFNULL(LOWER(HEX(ST_AsBinary(g))), '-')) FROM places ORDER BY id")" \
		"$(psql_q -c "SELECT concat_ws('|', id, encode(p, 'hex'), encode(area, 'hex'), coalesce(encode(g, 'hex'), '-')) FROM places ORDER BY id")" \
		"WKB equals MySQL's ST_AsBinary"
}

test_registration_chooses_columns() {
	my_q -e "DROP DATABASE IF EXISTS f_cols; CREATE DATABASE f_cols"
	my_q f_cols -e "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), secret VARCHAR(20), loc POINT NULL,
	                                updated_at DATETIME(6) NOT NULL DEFAULT NOW(6));
	                INSERT INTO t (id, name, secret) VALUES (1, 'a', 'x'), (2, 'b', 'y')"
	pg_db f_cols f_cols
	psql_q -c "SELECT ecsync_register_table('src', 't', 'left_out', exclude_columns => '{secret}')" >/dev/null
	psql_q -c "SELECT ecsync_register_table('src', 't', 'chosen', mode => 'incremental',
	           columns => '{id,name,updated_at}')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "id,name,loc,updated_at" "$(psql_q -c "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'left_out'::regclass AND attnum > 0")" "excluded column absent"
	assert_eq "id,name,updated_at" "$(psql_q -c "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'chosen'::regclass AND attnum > 0")" "only the chosen columns"
	my_q f_cols -e "UPDATE t SET name = 'b2', updated_at = NOW(6) WHERE id = 2"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "1|a,2|b2" "$(psql_q -c "SELECT id || '|' || name FROM chosen ORDER BY id" | paste -sd,)" "incremental with chosen columns"

	local out
	out=$(psql_q -c "SELECT ecsync_register_table('src', 't', 'bad1', columns => '{id,nope}')" 2>&1) && fail "a missing column was accepted"
	assert_contains 'columns names "nope"' "$out" "missing column named at registration"
	out=$(psql_q -c "SELECT ecsync_register_table('src', 't', 'bad2', exclude_columns => '{id}')" 2>&1) && fail "an excluded key was accepted"
	assert_contains 'key column "id"' "$out" "excluded key refused"
	out=$(psql_q -c "SELECT ecsync_register_table('src', 't', 'bad3', mode => 'incremental', columns => '{id,name}')" 2>&1) && fail "a left-out cursor was accepted"
	assert_contains 'cursor column "updated_at"' "$out" "left-out cursor refused"
	assert_eq 0 "$(psql_q -c "SELECT count(*) FROM ecsync.sync_tables WHERE target_table LIKE 'bad%'")" "nothing registered by the failures"
}

test_pre_created_targets_keep_their_types() {
	my_q -e "DROP DATABASE IF EXISTS f_pre; CREATE DATABASE f_pre"
	my_q f_pre -e "CREATE TABLE flags (id INT PRIMARY KEY, flag TINYINT(1), tags SET('a','b','c'), extra INT);
	               INSERT INTO flags VALUES (1, 0, 'a', 1), (2, 1, 'a,c', 2), (3, 2, '', 3), (4, -5, NULL, 4)"
	pg_db f_pre f_pre
	# the user's own types: smallint for a tinyint(1) holding 2, text for a SET
	psql_q -c "CREATE TABLE flags (id integer PRIMARY KEY, flag smallint, tags text, extra bigint)"
	psql_q -c "SELECT ecsync_register_table('src', 'flags')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "1|0|a,2|1|a,c,3|2|,4|-5|-" "$(psql_q -c "SELECT concat_ws('|', id, flag, coalesce(tags, '-')) FROM flags ORDER BY id" | paste -sd,)" \
		"values in the target's own types"

	# a target without a MySQL column: the error says what to do ...
	psql_q -c "CREATE TABLE narrow (id integer PRIMARY KEY, flag smallint)"
	psql_q -c "SELECT ecsync_register_table('src', 'flags', 'narrow')" >/dev/null
	local out
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch('narrow')" 2>&1) && fail "a missing target column was accepted"
	assert_contains "exclude_columns" "$out" "hint names exclude_columns"
	# ... and leaving the columns out syncs the rest
	psql_q -c "SELECT ecsync_register_table('src', 'flags', 'narrow', exclude_columns => '{tags,extra}')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch('narrow')" >/dev/null
	assert_eq 4 "$(psql_q -c "SELECT count(*) FROM narrow")" "narrow target synced"

	# a boolean target cannot take 2: the error names the column and row, not COPY's line
	psql_q -c "CREATE TABLE strict (id integer PRIMARY KEY, flag boolean)"
	psql_q -c "SELECT ecsync_register_table('src', 'flags', 'strict', columns => '{id,flag}')" >/dev/null
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch('strict')" 2>&1) && fail "2 went into a boolean"
	assert_contains 'column "flag" of MySQL row 3' "$out" "error names column and row"
	assert_contains "ecsync syncing public.strict" "$out" "error names the table"
	[[ $out != *"line 1"* ]] || fail "error still speaks of COPY's line: $out"
}

test_isolation_table_commits_each_table_alone() {
	my_q -e "DROP DATABASE IF EXISTS f_iso; CREATE DATABASE f_iso"
	my_q f_iso -e "CREATE TABLE a_good (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO a_good VALUES (1, 'old');
	               CREATE TABLE b_bad (id INT PRIMARY KEY, flag TINYINT(1)); INSERT INTO b_bad VALUES (1, 1);
	               CREATE TABLE c_good (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO c_good VALUES (1, 'old')"
	pg_db f_iso f_iso
	psql_q -c "SELECT ecsync_register_table('src', t) FROM unnest('{a_good,b_bad,c_good}'::text[]) t" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	my_q f_iso -e "UPDATE a_good SET v = 'new'; UPDATE c_good SET v = 'new'; UPDATE b_bad SET flag = 7"

	# the atomic run (the default) changes nothing ...
	! psql_q -c "SELECT * FROM ecsync_run_batch()" 2>/dev/null || fail "atomic run with a bad table succeeded"
	assert_eq "old|old" "$(psql_q -c "SELECT (SELECT v FROM a_good) || '|' || (SELECT v FROM c_good)")" "atomic: nothing committed"

	# ... a run with isolation 'table' commits the good tables and reports the bad one
	local out
	out=$(psql_q -c "SELECT concat_ws('|', table_name, status, rows_written, left(error, 40)) FROM ecsync_run_batch(isolation => 'table')" 2>&1)
	assert_contains "public.a_good|succeeded|1" "$out" "a_good committed"
	assert_contains "public.b_bad|failed|0|could not convert column \"flag\"" "$out" "b_bad failed alone"
	assert_contains "public.c_good|succeeded|1" "$out" "c_good, after the failure, committed"
	assert_contains "WARNING:  ecsync batch run" "$out" "a warning says the run was partial"
	assert_eq "new|new|true" "$(psql_q -c "SELECT (SELECT v FROM a_good) || '|' || (SELECT v FROM c_good) || '|' || (SELECT flag FROM b_bad)::text")" "good tables new, bad one as it was"
	assert_eq "partial" "$(psql_q -c "SELECT status FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" "run status"
	assert_eq "public.b_bad" "$(psql_q -c "SELECT string_agg(table_name, ',') FROM ecsync.status WHERE last_error IS NOT NULL")" "status shows the failure on b_bad only"
	assert_eq 0 "$(psql_q -c "SELECT count(*) FROM ecsync.status WHERE table_name <> 'public.b_bad' AND last_success < now() - interval '1 minute'")" "the others are fresh"
	my_q f_iso -e "UPDATE b_bad SET flag = 0"
	psql_q -c "SELECT * FROM ecsync_run_batch(isolation => 'table')" >/dev/null
	assert_eq "" "$(psql_q -c "SELECT string_agg(table_name, ',') FROM ecsync.status WHERE last_error IS NOT NULL")" "status clear after the fix"
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch(isolation => 'tables')" 2>&1) && fail "a wrong isolation was accepted"
	assert_contains "isolation must be 'run' or 'table'" "$out" "wrong isolation named"
}

test_reconcile_without_target_skips_full_tables() {
	my_q -e "DROP DATABASE IF EXISTS f_rec; CREATE DATABASE f_rec"
	my_q f_rec -e "CREATE TABLE nopk (a INT, b INT); INSERT INTO nopk VALUES (1, 1), (1, 1);
	               CREATE TABLE inc (id INT PRIMARY KEY, updated_at DATETIME(6) NOT NULL DEFAULT NOW(6));
	               INSERT INTO inc (id) VALUES (1), (2)"
	pg_db f_rec f_rec
	psql_q -c "SELECT ecsync_register_table('src', 'nopk'), ecsync_register_table('src', 'inc', mode => 'incremental')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	my_q f_rec -e "DELETE FROM inc WHERE id = 2"
	assert_eq "public.inc|1" "$(psql_q -c "SELECT table_name || '|' || rows_written FROM ecsync_reconcile_deletes()")" \
		"reconciliation covers the incremental table, skips the keyless full one"
	local out
	out=$(psql_q -c "SELECT * FROM ecsync_reconcile_deletes('nopk')" 2>&1) && fail "a keyless table was reconciled"
	assert_contains "key_columns" "$out" "the error names key_columns"
}

test_registration_checks_the_source() {
	my_q -e "DROP DATABASE IF EXISTS f_reg; CREATE DATABASE f_reg"
	my_q f_reg -e "CREATE TABLE nokey (a INT, updated_at DATETIME); CREATE TABLE t (id INT PRIMARY KEY, g GEOMETRY, e INT)"
	pg_db f_reg f_reg
	local out
	out=$(psql_q -c "SELECT ecsync_register_table('src', 'missing')" 2>&1) && fail "a missing table was registered"
	assert_contains "missing" "$out" "missing table named"
	out=$(psql_q -c "SELECT ecsync_register_table('src', 't', mode => 'incremental', cursor_column => 'changed')" 2>&1) && fail "a missing cursor was registered"
	assert_contains 'cursor column "changed" is not a column' "$out" "missing cursor named"
	out=$(psql_q -c "SELECT ecsync_register_table('src', 'nokey', mode => 'incremental')" 2>&1) && fail "a keyless incremental table was registered"
	assert_contains "key_columns" "$out" "no-key error names key_columns"
	psql_q -c "SELECT ecsync_register_table('src', 'nokey', mode => 'incremental', key_columns => '{a}')" >/dev/null
	assert_eq 1 "$(psql_q -c "SELECT count(*) FROM ecsync.sync_tables")" "only the valid registration is kept"
	# a server that cannot be reached now: registered, unchecked, with a notice
	psql_q -c "CREATE SERVER down FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host '127.0.0.1', port '1', database 'f_reg'${ECSYNC_MYSQL_SERVER_TLS:-})"
	user_mapping down
	out=$(psql_q -c "SELECT ecsync_register_table('down', 'whatever', 'later')" 2>&1) || fail "registration failed on an unreachable server: $out"
	assert_contains "was not checked" "$out" "notice says the table was not checked"
}

test_bigint_unsigned_as_bigint_when_the_server_says_so() {
	my_q -e "DROP DATABASE IF EXISTS f_ubig; CREATE DATABASE f_ubig"
	my_q f_ubig -e "CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, n BIGINT UNSIGNED);
	                INSERT INTO t VALUES (1, 0), (2, 9223372036854775807), (18446744073709551615, 5)"
	pg_db f_ubig f_ubig
	local out
	out=$(psql_q -c "ALTER SERVER src OPTIONS (ADD bigint_unsigned 'maybe')" 2>&1) && fail "a wrong bigint_unsigned was accepted"
	assert_contains "invalid bigint_unsigned" "$out" "the validator names the option"
	psql_q -c "ALTER SERVER src OPTIONS (ADD bigint_unsigned 'bigint')"
	psql_q -c "SELECT ecsync_register_table('src', 't')" >/dev/null
	# a value beyond bigint fails loudly, naming the column and the value
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch()" 2>&1) && fail "18446744073709551615 went into a bigint"
	assert_contains 'column "id"' "$out" "the error names the column"
	assert_contains "18446744073709551615" "$out" "the error names the value"
	my_q f_ubig -e "DELETE FROM t WHERE id > 100"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "id bigint|n bigint" "$(psql_q -c "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), '|' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0")" "bigint columns"
	assert_eq "1|0,2|9223372036854775807" "$(psql_q -c "SELECT id || '|' || n FROM t ORDER BY id" | paste -sd,)" "values"
	assert_eq binary "$(psql_q -c "SELECT copy_format FROM ecsync.run_tables ORDER BY run_id DESC LIMIT 1")" "binary COPY of 8-byte integers"
	# without the option: numeric(20,0), every value
	psql_q -c "ALTER SERVER src OPTIONS (DROP bigint_unsigned)" -c "DROP TABLE t"
	my_q f_ubig -e "INSERT INTO t VALUES (18446744073709551615, 5)"
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "18446744073709551615" "$(psql_q -c "SELECT max(id) FROM t")" "numeric keeps every value"
	# ecsync-ingest has the same setting
	local dir=$ECSYNC_RUN_DIR/f_ubig
	rm -rf "$dir"
	my_q f_ubig -e "DELETE FROM t WHERE id > 100"
	ECSYNC_MYSQL_PASSWORD=$(cat "$ECSYNC_MYSQL_PASSWORD_FILE") "$ECSYNC_TOP/ingester/ecsync-ingest" --snapshot -q -d "$dir" \
		-X mysql.host=127.0.0.1 -X "mysql.port=$ECSYNC_MYSQL_PORT" -X mysql.user=ecsync -X mysql.database=f_ubig \
		-X tables=t -X mysql.bigint-unsigned=bigint "${ingest_tls[@]}" || fail "snapshot failed"
	assert_contains '"id" bigint' "$(cat "$dir"/_snapshots/*.schema.sql)" "the archive's schema says bigint"
}

test_mysql_comments_become_postgresql_comments() {
	my_q -e "DROP DATABASE IF EXISTS f_cmt; CREATE DATABASE f_cmt"
	my_q f_cmt -e "CREATE TABLE t (id INT PRIMARY KEY COMMENT '注文ID', note VARCHAR(10) COMMENT 'it''s a note', plain INT)
	               COMMENT '注文 (orders)'; CREATE VIEW v AS SELECT id FROM t"
	pg_db f_cmt f_cmt
	psql_q -c "SELECT ecsync_register_table('src', 't'), ecsync_register_table('src', 'v')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "注文 (orders) (synced by ecsync from MySQL f_cmt.t on server src)" "$(psql_q -c "SELECT obj_description('t'::regclass, 'pg_class')")" "the table's comment"
	assert_eq "id:注文ID|note:it's a note|plain:" \
		"$(psql_q -c "SELECT string_agg(attname || ':' || coalesce(col_description('t'::regclass, attnum), ''), '|' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0")" \
		"the columns' comments"
	assert_eq "synced by ecsync from MySQL f_cmt.v on server src" "$(psql_q -c "SELECT obj_description('v'::regclass, 'pg_class')")" "a view has no comment of its own"
}
