# Change capture: MariaDB's binary log applied to PostgreSQL by the cdc
# worker, against the real stack (MariaDB runs with a row-based binary log).
# Workers run in the database named by ecsync.database ("ecsync"), so every
# test works there, with a foreign server, a MySQL database and a schema of
# its own, and stops its server's change capture at the end.

# shellcheck source=tests/shop_lib.sh
. "$ECSYNC_TOP/tests/shop_lib.sh"

PGBIN=${ECSYNC_PGBIN:-/usr/lib/postgresql/15/bin}
workload=$ECSYNC_TOP/tests/gen/cdc_workload.py
binlogcat=$ECSYNC_TOP/tests/gen/binlogcat
# MySQL's accounts use caching_sha2_password, which binlogcat answers only
# over TLS it verifies (the stack's CA)
if [ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ]; then
	export BINLOGCAT_SSL_CA=$ECSYNC_MYSQL_SSL_CA
fi
# the privilege that reads the binary log's position: MariaDB's BINLOG
# MONITOR, MySQL's REPLICATION CLIENT
if [ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ]; then binlog_monitor="REPLICATION CLIENT"; else binlog_monitor="BINLOG MONITOR"; fi


# cdc_server NAME MYDB [OPTIONS]: a foreign server NAME for MySQL database MYDB
cdc_server() {
	export PGDATABASE=ecsync PGTZ=UTC
	psql_q -c "CREATE EXTENSION IF NOT EXISTS ecsync"
	psql_q -c "DROP SERVER IF EXISTS $1 CASCADE"
	psql_q -c "DELETE FROM ecsync.cdc_servers WHERE server_name = '$1'" 2>/dev/null || true
	psql_q -c "CREATE SERVER $1 FOREIGN DATA WRAPPER ecsync_mysql
	           OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database '$2' ${3:+, $3}${ECSYNC_MYSQL_SERVER_TLS:-})"
	user_mapping "$1"
	cdc_done_on_exit "$1"
}

# cdc_done_on_exit SERVER: a failing test stops its change capture too; a
# worker left running would be counted by the tests that follow
cdc_done_on_exit() {
	cdc_servers="${cdc_servers:-} $1"
	trap 'for s in $cdc_servers; do cdc_done "$s" >/dev/null 2>&1 || true; done' EXIT
}

# the server's end of the binary log (MySQL 8.4 renamed SHOW MASTER STATUS)
master_status() {
	if [ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ]; then my_q -e "SHOW BINARY LOG STATUS"; else my_q -e "SHOW MASTER STATUS"; fi
}
master_position() { master_status | awk '{print $1 ":" $2}'; }
applied_position() { psql_q -c "SELECT applied_position FROM ecsync.cdc_status WHERE server_name = '$1'"; }
# caught_up SERVER: the worker applied the binary log up to its end
caught_up() { [ "$(applied_position "$1")" = "$(master_position)" ]; }
streaming() {	# streaming SERVER N: N tables stream
	[ "$(psql_q -c "SELECT count(*) FROM ecsync.cdc_table_status WHERE server_name = '$1' AND state = 'streaming'")" = "$2" ]
}
table_state() { psql_q -c "SELECT state FROM ecsync.cdc_table_status WHERE table_name = '$1'"; }
table_error() { psql_q -c "SELECT error FROM ecsync.cdc_table_status WHERE table_name = '$1'"; }
last_error() { psql_q -c "SELECT coalesce(last_error, '') FROM ecsync.cdc_status WHERE server_name = '$1'"; }
error_contains() { [[ $(last_error "$1") == *"$2"* ]]; }
worker_pid() { psql_q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'ecsync cdc' AND application_name = 'ecsync cdc of server $1'"; }
worker_running() { [ -n "$(worker_pid "$1")" ]; }
worker_gone() { [ -z "$(worker_pid "$1")" ]; }
stop_cdc() { psql_q -c "SELECT ecsync_stop_cdc('$1')" >/dev/null; wait_for 30 worker_gone "$1"; }
status_of() { psql_q -c "SELECT worker_running, lag_bytes, lag_seconds FROM ecsync.cdc_status WHERE server_name = '$1'"; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }
has_row() { [ "$(psql_q -c "SELECT count(*) FROM $1 WHERE id = $2")" = 1 ]; }
table_is() { [ "$(table_state "$1")" = "$2" ]; }
rows() { psql_q -c "SELECT * FROM $1 ORDER BY 1" | tr '\n' ' ' | sed 's/ $//'; }
# followed TABLE TEXT: TABLE's last schema change followed mentions TEXT
followed() { [[ $(psql_q -c "SELECT schema_change FROM ecsync.cdc_table_status WHERE table_name = '$1'") == *"$2"* ]]; }
pg_log() { cat "$ECSYNC_RUN_DIR/pg/postgresql.log"; }

# cdc_done SERVER: stop its change capture and remove it, its registrations
# and its mappings (the extension's other tests drop the extension)
cdc_done() {
	stop_cdc "$1"
	psql_q -c "DELETE FROM ecsync.sync_tables WHERE server_name = '$1'" \
		-c "DELETE FROM ecsync.cdc_servers WHERE server_name = '$1'" \
		-c "DROP SERVER IF EXISTS $1 CASCADE" >/dev/null
}

# shop_counts DB: the arguments cdc_workload.py needs: the generated shop's
# ids (a workload's own ids start at 20,000,000 and are not picked again)
shop_counts() {
	my_q "$1" -e "SELECT CONCAT('--users ', (SELECT count(*) FROM users), ' --products ', (SELECT count(*) FROM products),
	              ' --sales ', (SELECT max(id) FROM sales WHERE id < 20000000),
	              ' --details ', (SELECT max(id) FROM sales_details WHERE id < 20000000))"
}

# binlog_changes DB FILE POS: row changes per table of DB in the binary log
# from FILE:POS, as "table inserts updates deletes" lines (binlogcat decodes)
binlog_changes() {
	"$binlogcat" "$2" "$3" | awk -F'\t' -v db="$1" '
		{ split($2, n, "."); if (n[1] != db) next }
		$1 == "I" { i[n[2]]++ } $1 == "U-" { u[n[2]]++ } $1 == "D" { d[n[2]]++ } { seen[n[2]] = 1 }
		END { for (t in seen) printf "%s %d %d %d\n", t, i[t], u[t], d[t] }' | sort
}

test_snapshot_then_stream_equals_mysql() {
	load_shop c_basic 0.01 31 >/dev/null
	cdc_server c_basic c_basic
	psql_q -c "DROP SCHEMA IF EXISTS c_basic CASCADE"
	psql_q -c "SELECT count(*) FROM ecsync_register_shop('c_basic', 'c_basic', 'cdc')" >/dev/null
	# writers run while the snapshot is taken: the hand-off must be exact
	# shellcheck disable=SC2046
	python3 "$workload" --seed 31 --transactions 3000 --rate 400 $(shop_counts c_basic) | my_q c_basic &
	local writer=$!
	sleep 1
	psql_q -c "SELECT ecsync_start_cdc('c_basic')" >/dev/null
	wait_for 60 streaming c_basic 4 || fail "the tables never streamed: $(psql_q -c "SELECT * FROM ecsync.cdc_status")"
	wait $writer
	wait_for 60 caught_up c_basic || fail "not caught up: $(applied_position c_basic) of $(master_position)"
	assert_shop_equal c_basic c_basic
	assert_eq "" "$(last_error c_basic)" "no error"
	# the snapshot was a batch run of the cdc tables, recorded as such
	assert_eq "4|cdc snapshot" "$(psql_q -c "SELECT count(*), min(mode) FROM ecsync.run_tables
		WHERE table_name LIKE 'c_basic.%'")" "the snapshot's run"
	# observability: positions, lag, counts, the worker
	# (the worker reports its lag at once when it has nothing more to read)
	wait_for 3 status_is c_basic "t|0|0" ||
		assert_eq "t|0|0" "$(status_of c_basic)" "status when caught up"
	assert_match "^[1-9][0-9]*$" "$(psql_q -c "SELECT rows_applied FROM ecsync.cdc_status WHERE server_name = 'c_basic'")" "rows applied"
	# MariaDB's GTID is domain-server-sequence, MySQL's source_uuid:number
	local gtid_re="^0-1-[0-9]+$"
	[ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" != mysql ] ||
		gtid_re="^$(my_q -e "SELECT @@server_uuid"):[1-9][0-9]*$"
	assert_match "$gtid_re" "$(psql_q -c "SELECT gtid FROM ecsync.cdc_status WHERE server_name = 'c_basic'")" "GTID stored"
	# more changes after a stop are applied after the start, exactly once
	stop_cdc c_basic
	# shellcheck disable=SC2046
	python3 "$workload" --seed 32 --transactions 500 $(shop_counts c_basic) | my_q c_basic
	psql_q -c "SELECT ecsync_start_cdc('c_basic')" >/dev/null
	wait_for 60 caught_up c_basic || fail "not caught up after the restart"
	assert_shop_equal c_basic c_basic
	cdc_done c_basic
}

# A snapshot copies each table in a transaction of its own: every table of
# a server with a zone reads that zone (it once read it freed, and paused
# tables with "invalid value for parameter TimeZone"), and so do the
# changes that follow.
test_snapshot_of_a_zoned_server_streams_every_table() {
	load_shop c_zone 0.002 33 >/dev/null
	cdc_server c_zone c_zone "datetime_zone 'Asia/Tokyo'"
	psql_q -c "DROP SCHEMA IF EXISTS c_zone CASCADE"
	psql_q -c "SELECT count(*) FROM ecsync_register_shop('c_zone', 'c_zone', 'cdc')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_zone')" >/dev/null
	wait_for 60 streaming c_zone 4 ||
		fail "not every table streams: $(psql_q -c "SELECT table_name, state, error FROM ecsync.cdc_table_status WHERE server_name = 'c_zone'")"
	assert_eq "" "$(psql_q -c "SELECT string_agg(table_name || ': ' || error, '; ') FROM ecsync.cdc_table_status
	                           WHERE server_name = 'c_zone' AND error IS NOT NULL")" "no table has an error"
	assert_wall_clock c_zone c_zone Asia/Tokyo
	my_q c_zone -e "UPDATE sales SET sold_at = sold_at + INTERVAL 90 MINUTE WHERE id % 3 = 0;
	                INSERT INTO users (id, name, email, age, gender, occupation, created_at, updated_at)
	                  VALUES (900001, '時差 太郎', 'jisa@example.jp', 30, 'male', '会社員', '2026-03-08 02:30:00', NOW())"
	wait_for 60 caught_up c_zone || fail "not caught up"
	assert_wall_clock c_zone c_zone Asia/Tokyo
	assert_eq "2026-03-07 17:30:00" "$(psql_q -c "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM c_zone.users WHERE id = 900001")" \
		"a Tokyo wall-clock time is its UTC instant"
	cdc_done c_zone
}

# Statements the binary log carries as QUERY events (DDL, GRANT, a
# MyISAM commit) right behind row changes: the open group commits with
# them, and the statement's text, once kept in that group's memory, was
# freed under the worker (a cassert server trapped).  And a transaction of
# many statements maps its tables again and again: every row is applied.
test_statements_behind_row_changes_and_long_transactions_apply_every_row() {
	my_q -e "DROP DATABASE IF EXISTS c_stmt; CREATE DATABASE c_stmt"
	my_q c_stmt -e "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20)); CREATE TABLE b (id INT PRIMARY KEY, n INT);
	                CREATE TABLE m (id INT PRIMARY KEY) ENGINE=MyISAM"
	cdc_server c_stmt c_stmt
	psql_q -c "DROP SCHEMA IF EXISTS c_stmt CASCADE"
	psql_q -c "SELECT ecsync_register_table('c_stmt', 'a', 'a', mode => 'cdc', target_schema => 'c_stmt')" \
		-c "SELECT ecsync_register_table('c_stmt', 'b', 'b', mode => 'cdc', target_schema => 'c_stmt')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_stmt')" >/dev/null
	wait_for 60 streaming c_stmt 2 || fail "the tables never streamed"
	local pid i sql=
	pid=$(worker_pid c_stmt)
	for ((i = 1; i <= 300; i++)); do
		sql+="INSERT INTO a VALUES ($i, 'v$i'); INSERT INTO b VALUES ($i, $i);"
		# statements of their own right behind the row changes
		((i % 10)) || sql+="CREATE TABLE IF NOT EXISTS x$i (i INT); DROP TABLE x$i; INSERT INTO m VALUES ($i);"
	done
	my_q c_stmt -e "$sql"
	# one transaction of 400 statements over both tables
	sql="START TRANSACTION;"
	for ((i = 1001; i <= 1200; i++)); do
		sql+="INSERT INTO a VALUES ($i, 'w$i'); UPDATE b SET n = n + 1 WHERE id = $((i - 1000));"
	done
	my_q c_stmt -e "${sql}COMMIT;"
	wait_for 60 caught_up c_stmt || fail "not caught up: $(last_error c_stmt)"
	assert_eq "500|200" "$(psql_q -c "SELECT (SELECT count(*) FROM c_stmt.a), (SELECT count(*) FROM c_stmt.b WHERE n = id + 1)")" \
		"every row of both tables"
	assert_eq "$(my_q c_stmt -e "SELECT CONCAT(a.id, '|', v, '|', n) FROM a JOIN b USING (id) ORDER BY id" | md5sum)" \
		"$(psql_q -c "SELECT concat(a.id, '|', v, '|', n) FROM c_stmt.a JOIN c_stmt.b USING (id) ORDER BY id" | md5sum)" "the values"
	assert_eq "$pid" "$(worker_pid c_stmt)" "the same worker, never restarted"
	assert_eq "" "$(last_error c_stmt)" "no error"
	cdc_done c_stmt
	my_q -e "DROP DATABASE c_stmt"
}

test_every_type_arrives_as_the_batch_reads_it() {
	my_q -e "DROP DATABASE IF EXISTS c_types; CREATE DATABASE c_types"
	local cols="id INT PRIMARY KEY, b TINYINT(1), ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
	  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
	  d DECIMAL(65,30), d2 DECIMAL(5,2), d0 DECIMAL(18,0), f FLOAT, db DOUBLE, bt BIT(10), b1 BIT(1), y YEAR,
	  dt DATE, dtm DATETIME, dtm3 DATETIME(3), dtm6 DATETIME(6), ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL,
	  tm TIME, tm1 TIME(1), tm4 TIME(4), tm6 TIME(6),
	  c CHAR(5), c300 CHAR(100), vc VARCHAR(20), vl VARCHAR(1000), tx TEXT, mt MEDIUMTEXT, e ENUM('a','b c','d''e'),
	  s SET('x','y z','w'), j JSON, bin BINARY(4), vb VARBINARY(10), bl BLOB, g GEOMETRY, pt POINT"
	my_q c_types -e "CREATE TABLE t ($cols)"
	# edge values first, then random rows (python: values MariaDB parses)
	my_q c_types -e "SET sql_mode = ''; SET time_zone = '+00:00';
	INSERT INTO t (id) VALUES (1);
	INSERT INTO t VALUES (2, 0, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
	  -99999999999999999999999999999999999.999999999999999999999999999999, -999.99, -999999999999999999, -1.5,
	  -1.7976931348623157e308, b'0000000000', b'0', 1901, '0000-00-00', '0000-00-00 00:00:00', '1000-01-01 00:00:00.001',
	  '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01', '1970-01-01 00:00:01.001', '-838:59:59', '-00:00:00.1',
	  '-12:34:56.0001', '-838:59:58.999999', '', '', '', '', '', '', 'a', '', '{}', 0x00000000, '', '',
	  ST_GeomFromText('LINESTRING(0 0, 1 1)'), ST_GeomFromText('POINT(-1.5 2.25)'));
	INSERT INTO t VALUES (3, 1, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
	  9223372036854775807, 18446744073709551615,
	  99999999999999999999999999999999999.999999999999999999999999999999, 999.99, 999999999999999999, 3.40282e38,
	  1.7976931348623157e308, b'1111111111', b'1', 2155, '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999',
	  '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', '2038-01-19 03:14:07.999', '838:59:59', '838:59:59.9',
	  '838:59:59.9999', '838:59:59.000001', 'abcde', REPEAT('長', 100), 'tab\there', REPEAT('ü', 1000),
	  'l1\nl2\r\nback\\\\slash \"q\" ''s''', REPEAT('x', 70000), 'd''e', 'x,y z,w', '{\"k\": [1, \"二\", null]}',
	  0xFF00FF00, 0x5C0A09, 0x00FF, ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))'), ST_GeomFromText('POINT(1e300 -0)'));"
	python3 - >"$ECSYNC_RUN_DIR/c_types.sql" <<-'EOF'
	import json, random
	r = random.Random(5)
	def q(s): return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"
	rows = []
	for i in range(10, 1010):
	    n = lambda: "NULL" if r.random() < 0.1 else None
	    def v(x): return n() or x
	    fs = "%.9g" % r.uniform(-1e6, 1e6)
	    rows.append("(" + ", ".join([str(i), v(str(r.randint(0, 1))), v(str(r.randint(-128, 127))), v(str(r.randint(0, 255))),
	        v(str(r.randint(-32768, 32767))), v(str(r.randint(0, 65535))), v(str(r.randint(-8388608, 8388607))),
	        v(str(r.randint(0, 16777215))), v(str(r.randint(-2**31, 2**31 - 1))), v(str(r.randint(0, 2**32 - 1))),
	        v(str(r.randint(-2**63, 2**63 - 1))), v(str(r.randint(0, 2**64 - 1))),
	        v("%s%d.%030d" % (r.choice(["", "-"]), r.randint(0, 10**35 - 1), r.randint(0, 10**30 - 1))),
	        v("%d.%02d" % (r.randint(-999, 999), r.randint(0, 99))), v(str(r.randint(-10**18 + 1, 10**18 - 1))),
	        v(fs), v(repr(r.uniform(-1e300, 1e300))), v("b'" + format(r.getrandbits(10), "010b") + "'"),
	        v("b'%d'" % r.randint(0, 1)), v(str(r.randint(1901, 2155))),
	        v("'%04d-%02d-%02d'" % (r.randint(1000, 9999), r.randint(1, 12), r.randint(1, 28))),
	        v("'%04d-%02d-%02d %02d:%02d:%02d'" % (r.randint(1000, 9999), r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))),
	        v("'2020-01-01 00:00:00.%03d'" % r.randint(0, 999)), v("'2020-01-01 00:00:00.%06d'" % r.randint(0, 999999)),
	        v("FROM_UNIXTIME(%d)" % r.randint(1, 2**31 - 1)), v("FROM_UNIXTIME(%d.%03d)" % (r.randint(1, 2**31 - 1), r.randint(0, 999))),
	        v("'%s%d:%02d:%02d'" % (r.choice(["", "-"]), r.randint(0, 838), r.randint(0, 59), r.randint(0, 59))),
	        v("'%s%d:%02d:%02d.%d'" % (r.choice(["", "-"]), r.randint(0, 837), r.randint(0, 59), r.randint(0, 59), r.randint(0, 9))),
	        v("'%s%d:%02d:%02d.%04d'" % (r.choice(["", "-"]), r.randint(0, 837), r.randint(0, 59), r.randint(0, 59), r.randint(0, 9999))),
	        v("'%s%d:%02d:%02d.%06d'" % (r.choice(["", "-"]), r.randint(0, 837), r.randint(0, 59), r.randint(0, 59), r.randint(0, 999999))),
	        v(q("".join(r.choice("ab c") for _ in range(r.randint(0, 5))))),
	        v(q("".join(r.choice("日本語 x\t") for _ in range(r.randint(0, 100))))),
	        v(q("".join(r.choice("ab\\'\"\n") for _ in range(r.randint(0, 20))))),
	        v(q("".join(chr(r.randint(32, 0x2FFF)) for _ in range(r.randint(0, 300))))),
	        v(q("".join(chr(r.randint(1, 0x10FFFF)) if False else r.choice("🍣é\x01\\") for _ in range(r.randint(0, 50))))),
	        v(q("m" * r.randint(0, 300))), v(r.choice(["'a'", "'b c'", "'d''e'"])),
	        v(q(",".join(sorted(set(r.sample(["x", "y z", "w"], r.randint(0, 3))), key=["x", "y z", "w"].index)))),
	        v(q(json.dumps({"n": r.randint(-10, 10), "s": r.choice(["a", "二", "q\\\"", "\u0001"])}, ensure_ascii=False))),
	        v("0x%08X" % r.getrandbits(32)), v("0x" + "".join("%02X" % r.getrandbits(8) for _ in range(r.randint(1, 10)))),
	        v("0x" + "".join("%02X" % r.getrandbits(8) for _ in range(r.randint(1, 100)))),
	        v("ST_GeomFromText('POINT(%d %d)')" % (r.randint(-100, 100), r.randint(-100, 100))),
	        v("ST_GeomFromText('POINT(%r %r)')" % (r.uniform(-1, 1), r.uniform(-1, 1)))]) + ")")
	print("SET sql_mode = ''; SET time_zone = '+00:00';")
	print("INSERT INTO t VALUES " + ",\n".join(rows) + ";")
	EOF
	cdc_server c_types c_types
	psql_q -c "DROP SCHEMA IF EXISTS c_types CASCADE" -c "DROP SCHEMA IF EXISTS c_types_batch CASCADE"
	psql_q -c "SELECT ecsync_register_table('c_types', 't', 't', mode => 'cdc', target_schema => 'c_types')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_types')" >/dev/null
	wait_for 60 streaming c_types 1 || fail "never streamed: $(last_error c_types)"
	# every row again through the binary log: inserted, updated (every column), deleted and re-inserted
	my_q c_types -e "CREATE TABLE src LIKE t; INSERT INTO src SELECT * FROM t; DELETE FROM t WHERE id >= 10"
	my_q c_types <"$ECSYNC_RUN_DIR/c_types.sql"
	my_q c_types -e "UPDATE t SET id = id + 100000 WHERE id < 10;
	                 INSERT INTO t SELECT * FROM src WHERE id < 10; DELETE FROM t WHERE id > 100000"
	wait_for 60 caught_up c_types || fail "not caught up: $(last_error c_types)"
	assert_eq "streaming|" "$(psql_q -c "SELECT state, coalesce(error, '') FROM ecsync.cdc_table_status WHERE table_name = 'c_types.t'")" "table state"
	# the batch reads the same MySQL table: it must give the very same values
	psql_q -c "SELECT ecsync_register_table('c_types', 't', 't', target_schema => 'c_types_batch')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch('c_types_batch.t')" >/dev/null
	assert_eq "1003" "$(psql_q -c "SELECT count(*) FROM c_types.t")" "rows"
	assert_eq "0|0" "$(psql_q -c "SELECT (SELECT count(*) FROM (SELECT * FROM c_types.t EXCEPT ALL SELECT * FROM c_types_batch.t) a),
		(SELECT count(*) FROM (SELECT * FROM c_types_batch.t EXCEPT ALL SELECT * FROM c_types.t) b)")" \
		"rows that differ between change capture and the batch"
	# floats bit for bit, not only equal as numbers
	assert_eq 0 "$(psql_q -c "SELECT count(*) FROM c_types.t a JOIN c_types_batch.t b USING (id)
		WHERE float4send(a.f) IS DISTINCT FROM float4send(b.f) OR float8send(a.db) IS DISTINCT FROM float8send(b.db)")" "float bits"
	psql_q -c "SELECT ecsync_unregister_table('t', 'c_types_batch')" >/dev/null
	cdc_done c_types
}

# DATETIME and TIMESTAMP values are read without PostgreSQL's input
# function when the target column holds them as they are; a pre-created
# target of fewer fractional digits than MySQL's must round them exactly as
# that function does (PostgreSQL's own cast of MySQL's text is the
# expectation), and the snapshot and the stream must agree.
test_timestamps_into_narrower_pre_created_columns_round_as_postgresql_does() {
	my_q -e "DROP DATABASE IF EXISTS c_round; CREATE DATABASE c_round"
	my_q c_round -e "CREATE TABLE t (id INT PRIMARY KEY, d6 DATETIME(6), t3 TIMESTAMP(3) NULL, d0 DATETIME, d3 DATETIME(3))"
	local vals="'2020-01-01 00:00:00.600000', '2020-01-01 00:00:00.250', '2020-01-01 00:00:00', '2020-01-01 00:00:00.001'
	  ! '2020-01-01 23:59:59.500000', '2020-01-01 00:00:00.050', '9999-12-31 23:59:59', '1000-01-01 00:00:00.999'
	  ! '2020-02-29 12:34:56.000000', '2020-01-01 00:00:00.000', '1999-12-31 23:59:59', '2038-01-19 03:14:07.500'
	  ! '2024-06-30 10:00:00.499999', '2020-01-01 00:00:00.150', '2020-01-01 00:00:01', NULL
	  ! NULL, NULL, NULL, '2020-01-01 00:00:00.005'" v i=1
	# half the rows before the snapshot, half streamed
	IFS='!' read -r -a rowvals <<<"$(tr '\n' ' ' <<<"$vals")"
	for v in "${rowvals[@]}"; do
		my_q c_round -e "SET time_zone = '+00:00'; INSERT INTO t VALUES ($i, $v)"
		i=$((i + 1))
		[ "$i" = 3 ] && break
	done
	cdc_server c_round c_round
	psql_q -c "DROP SCHEMA IF EXISTS c_round CASCADE" -c "CREATE SCHEMA c_round" \
		-c "CREATE TABLE c_round.t (id integer PRIMARY KEY, d6 timestamp(0), t3 timestamptz(1), d0 timestamp(6), d3 timestamp(2))"
	psql_q -c "SELECT ecsync_register_table('c_round', 't', 't', mode => 'cdc', target_schema => 'c_round')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_round')" >/dev/null
	wait_for 60 streaming c_round 1 || fail "never streamed: $(table_error c_round.t)"
	for v in "${rowvals[@]:2}"; do
		my_q c_round -e "SET time_zone = '+00:00'; INSERT INTO t VALUES ($i, $v)"
		i=$((i + 1))
	done
	# and an update of a streamed row
	my_q c_round -e "UPDATE t SET d6 = '2021-05-05 05:05:05.999999', d3 = '2021-05-05 05:05:05.995' WHERE id = 3"
	wait_for 30 caught_up c_round || fail "not caught up: $(table_error c_round.t)"
	local expected
	expected=$(my_q c_round -e "SET time_zone = '+00:00'; SELECT id, d6, t3, d0, d3 FROM t ORDER BY id" |
		awk -F'\t' '{ q = ""; for (i = 2; i <= 5; i++) q = q ", " ($i == "NULL" ? "NULL" : "'"'"'" $i "'"'"'");
		               print "(" $1 q ")" }' | paste -sd, -)
	assert_eq "$(psql_q -c "SELECT id, d6::timestamp(0), (t3 || '+00')::timestamptz(1), d0::timestamp(6), d3::timestamp(2)
	                        FROM (VALUES $expected) v(id, d6, t3, d0, d3) ORDER BY id")" \
		"$(psql_q -c "SELECT * FROM c_round.t ORDER BY id")" "the target's values are PostgreSQL's casts of MySQL's"
	assert_eq 5 "$(psql_q -c "SELECT count(*) FROM c_round.t")" "every row"
	cdc_done c_round
	my_q -e "DROP DATABASE c_round"
}

test_decoder_reads_values_as_select_does() {
	# binlogcat prints what ecsync's decoder reads from the binary log; MariaDB
	# prints what SELECT reads (FLOAT as a double, geometry as WKB, TIMESTAMP in
	# UTC): the same bytes, or the same number for floating point
	my_q -e "DROP DATABASE IF EXISTS c_dec; CREATE DATABASE c_dec"
	my_q c_dec -e "CREATE TABLE t (id INT PRIMARY KEY, a TINYINT, b SMALLINT UNSIGNED, c MEDIUMINT, d INT, e BIGINT UNSIGNED,
	  f FLOAT, g DOUBLE, h DECIMAL(20,6), i DATE, j DATETIME(4), k TIMESTAMP(2) NULL, l TIME(5), m YEAR, n BIT(17),
	  o CHAR(3), p VARCHAR(300), q TEXT, r ENUM('x','y'), s SET('u','v','w'), t BINARY(2), u GEOMETRY)"
	local start
	start=$(master_position)
	python3 - <<-'EOF' | my_q c_dec
	import random
	r = random.Random(9)
	print("SET time_zone = '+00:00';")
	for i in range(1, 301):
	    print("INSERT INTO t VALUES (%d, %d, %d, %d, %d, %d, %r, %r, %d.%06d, '%04d-%02d-%02d', '2001-02-03 04:05:06.%04d', FROM_UNIXTIME(%d.%02d), '%s%d:%02d:%02d.%05d', %d, %d, 'a%d', '%s', REPEAT('é', %d), '%s', '%s', 0x%04X, ST_GeomFromText('POINT(%d %d)'));" % (
	        i, r.randint(-128, 127), r.randint(0, 65535), r.randint(-2**23, 2**23 - 1), r.randint(-2**31, 2**31 - 1),
	        r.randint(0, 2**64 - 1), r.uniform(-1e30, 1e30), r.uniform(-1e300, 1e300), r.randint(-10**13, 10**13), r.randint(0, 999999),
	        r.randint(1000, 9999), r.randint(1, 12), r.randint(1, 28), r.randint(0, 9999), r.randint(1, 2**31 - 1), r.randint(0, 99),
	        r.choice(["", "-"]), r.randint(0, 838), r.randint(0, 59), r.randint(0, 59), r.randint(0, 99999),
	        r.randint(1901, 2155), r.getrandbits(17), r.randint(0, 99), "z" * r.randint(0, 300), r.randint(0, 50),
	        r.choice(["x", "y"]), ",".join(sorted(r.sample(["u", "v", "w"], r.randint(0, 3)))), r.getrandbits(16),
	        r.randint(-9, 9), r.randint(-9, 9)))
	    if i % 3 == 0:
	        print("UPDATE t SET a = a DIV 2, f = -f WHERE id = %d;" % (i - 1))
	    if i % 7 == 0:
	        print("DELETE FROM t WHERE id = %d;" % (i - 2))
	EOF
	"$binlogcat" "${start%:*}" "${start#*:}" | awk -F'\t' '$2 == "c_dec.t" && ($1 == "I" || $1 == "U+")' >"$ECSYNC_RUN_DIR/c_dec.binlog"
	my_q c_dec -e "SET time_zone = '+00:00'; SELECT id, $(printf 'HEX(CONCAT(%s)), ' a b c d e 'CAST(f AS DOUBLE)' g h i j k l m n o p q r s t 'ST_AsBinary(u)' | sed 's/, $//') FROM t ORDER BY id" >"$ECSYNC_RUN_DIR/c_dec.select"
	python3 - "$ECSYNC_RUN_DIR/c_dec.binlog" "$ECSYNC_RUN_DIR/c_dec.select" <<-'EOF'
	import sys, struct
	last = {}
	for line in open(sys.argv[1]):
	    f = line.rstrip("\n").split("\t")
	    vals = f[2:]
	    last[int(bytes.fromhex(vals[0]).decode())] = vals[1:]
	bad = 0
	rows = 0
	for line in open(sys.argv[2]):
	    f = line.rstrip("\n").split("\t")
	    rid = int(f[0])
	    rows += 1
	    got = last.get(rid)
	    if got is None:
	        print("row %d: not in the binary log" % rid); bad += 1; continue
	    for col, (want, have) in enumerate(zip(f[1:], got)):
	        w = bytes.fromhex(want) if want != "NULL" else None
	        h = bytes.fromhex(have) if have != "NULL" else None
	        if col in (5, 6):   # FLOAT (as a double), DOUBLE: the same number
	            ok = float(w) == float(h) if col == 6 else struct.pack("f", float(w)) == struct.pack("f", float(h))
	        else:
	            ok = w == h
	        if not ok:
	            bad += 1
	            if bad < 10: print("row %d column %d: SELECT %r, decoder %r" % (rid, col + 1, w, h))
	print("%d rows compared, %d differences" % (rows, bad))
	sys.exit(1 if bad or rows < 200 else 0)
	EOF
}

test_kill_9_of_worker_postmaster_and_mariadb_loses_and_repeats_nothing() {
	load_shop c_kill 0.01 33 >/dev/null
	cdc_server c_kill c_kill
	psql_q -c "DROP SCHEMA IF EXISTS c_kill CASCADE"
	psql_q -c "SELECT count(*) FROM ecsync_register_shop('c_kill', 'c_kill', 'cdc')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_kill')" >/dev/null
	wait_for 60 streaming c_kill 4 || fail "never streamed: $(last_error c_kill)"
	local from file pos
	from=$(psql_q -c "SELECT snapshot_file || ' ' || snapshot_pos FROM ecsync.cdc_tables c JOIN ecsync.sync_tables t
		ON t.id = c.sync_table_id WHERE t.target_table = 'sales' AND t.target_schema = 'c_kill'")
	# shellcheck disable=SC2046
	python3 "$workload" --seed 33 --transactions 6000 --rate 300 $(shop_counts c_kill) | my_q c_kill &
	local writer=$! round pid
	for round in 1 2 3 4; do
		sleep "1.$((RANDOM % 10))"
		wait_for 30 worker_running c_kill || fail "no worker to kill in round $round"
		pid=$(worker_pid c_kill)
		echo "round $round: kill -9 worker $pid at $(applied_position c_kill)"
		kill -9 "$pid"
	done
	sleep 1
	echo "immediate stop of PostgreSQL at $(applied_position c_kill)"
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$ECSYNC_RUN_DIR/pg/data" -m immediate -w stop >/dev/null
	sleep 1
	stack_start
	wait $writer
	wait_for 30 worker_running c_kill || fail "the worker did not come back after the restart"
	sleep 1
	echo "kill -9 of MariaDB at $(applied_position c_kill)"
	kill -9 "$(cat "$(readlink -f "$ECSYNC_RUN_DIR/mysql")/mysqld.pid")"
	sleep 2
	stack_start
	# shellcheck disable=SC2046
	python3 "$workload" --seed 34 --transactions 1000 $(shop_counts c_kill) | my_q c_kill
	wait_for 120 caught_up c_kill || fail "not caught up: $(applied_position c_kill) of $(master_position); $(last_error c_kill)"
	assert_shop_equal c_kill c_kill
	assert_eq "4" "$(psql_q -c "SELECT tables_streaming FROM ecsync.cdc_status WHERE server_name = 'c_kill'")" "no table paused"
	# exactly once: the changes counted in the transactions that applied them
	# are the binary log's own row changes, none twice, none missing
	file=${from% *}
	pos=${from#* }
	assert_eq "$(binlog_changes c_kill "$file" "$pos")" \
		"$(psql_q -F ' ' -c "SELECT t.source_table, c.inserts, c.updates, c.deletes FROM ecsync.cdc_tables c
			JOIN ecsync.sync_tables t ON t.id = c.sync_table_id WHERE t.target_schema = 'c_kill'
			AND c.inserts + c.updates + c.deletes > 0 ORDER BY 1")" "changes applied = changes in the binary log"
	assert_contains "was terminated by signal 9" "$(pg_log)" "PostgreSQL saw the worker die"
	cdc_done c_kill
}

test_a_million_row_transaction_streams_in_bounded_memory() {
	my_q -e "DROP DATABASE IF EXISTS c_big; CREATE DATABASE c_big"
	my_q c_big -e "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(40), n BIGINT); INSERT INTO t VALUES (0, 'seed', 0)"
	cdc_server c_big c_big
	psql_q -c "DROP SCHEMA IF EXISTS c_big CASCADE"
	psql_q -c "SELECT ecsync_register_table('c_big', 't', 't', mode => 'cdc', target_schema => 'c_big')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_big')" >/dev/null
	wait_for 60 streaming c_big 1 || fail "never streamed: $(last_error c_big)"
	local pid peak=0 rss
	# anonymous memory: the shared buffers the worker touches are not its own
	pid=$(worker_pid c_big)
	my_q c_big -e "INSERT INTO t SELECT seq, CONCAT('row ', seq), seq * 3 FROM ($(seq_sql 1000000)) s" &
	local writer=$!
	# sample the worker's memory while it applies the one transaction
	while ! caught_up c_big || kill -0 $writer 2>/dev/null; do
		rss=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
		[ "${rss:-0}" -gt "$peak" ] && peak=$rss
		sleep 0.2
	done
	wait $writer
	echo "worker peak anonymous memory $((peak / 1024)) MB while applying 1,000,000 rows in one transaction"
	assert_eq "1000001|1500001500000" "$(psql_q -c "SELECT count(*), sum(n) FROM c_big.t")" "every row"
	assert_eq "$pid" "$(worker_pid c_big)" "the same worker applied it (no restart)"
	[ "$peak" -lt 131072 ] || fail "the worker grew to $((peak / 1024)) MB"
	cdc_done c_big
}

test_schema_changes_are_applied_or_pause_their_table() {
	my_q -e "DROP DATABASE IF EXISTS c_ddl; CREATE DATABASE c_ddl"
	my_q c_ddl -e "CREATE TABLE a (id INT PRIMARY KEY, v INT); CREATE TABLE b (id INT PRIMARY KEY, v INT);
		INSERT INTO a VALUES (1, 1), (2, 2); INSERT INTO b VALUES (1, 1)"
	cdc_server c_ddl c_ddl
	psql_q -c "DROP SCHEMA IF EXISTS c_ddl CASCADE"
	# c's pre-created target cannot take its values: its snapshot fails alone
	my_q c_ddl -e "CREATE TABLE c (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO c VALUES (1, 'abc')"
	psql_q -c "CREATE SCHEMA c_ddl" -c "CREATE TABLE c_ddl.c (id integer PRIMARY KEY, v integer)"
	# d's pre-created target is narrower than MySQL's: its first copy keeps it so
	my_q c_ddl -e "CREATE TABLE d (id INT PRIMARY KEY, n BIGINT); INSERT INTO d VALUES (1, 5)"
	psql_q -c "CREATE TABLE c_ddl.d (id integer PRIMARY KEY, n integer)"
	psql_q -c "SELECT ecsync_register_table('c_ddl', 'a', 'a', mode => 'cdc', target_schema => 'c_ddl')" \
		-c "SELECT ecsync_register_table('c_ddl', 'b', 'b', mode => 'cdc', target_schema => 'c_ddl')" \
		-c "SELECT ecsync_register_table('c_ddl', 'c', 'c', mode => 'cdc', target_schema => 'c_ddl')" \
		-c "SELECT ecsync_register_table('c_ddl', 'd', 'd', mode => 'cdc', target_schema => 'c_ddl')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_ddl')" >/dev/null
	wait_for 60 streaming c_ddl 3 || fail "never streamed: $(last_error c_ddl)"
	assert_eq paused "$(table_state c_ddl.c)" "c paused"
	assert_contains 'invalid input syntax for type integer: "abc"' "$(table_error c_ddl.c)" "c's error"
	assert_contains "ecsync_cdc_resnapshot('c_ddl', 'c_ddl.c')" "$(table_error c_ddl.c)" "what to do"
	assert_eq "" "$(last_error c_ddl)" "the server has no error"
	assert_eq "1|5 integer" "$(rows c_ddl.d) $(psql_q -c "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'c_ddl.d'::regclass AND attname = 'n'")" "d copied into its own column type"
	# TRUNCATE is applied
	my_q c_ddl -e "INSERT INTO a VALUES (3, 3); TRUNCATE TABLE a; INSERT INTO a VALUES (10, 10)"
	wait_for 30 caught_up c_ddl || fail "not caught up"
	assert_eq "10|10" "$(psql_q -c "SELECT * FROM c_ddl.a")" "TRUNCATE applied"
	# an added column is followed: b is copied anew with it, a goes on
	my_q c_ddl -e "ALTER TABLE b ADD COLUMN w VARCHAR(10) DEFAULT 'new' COMMENT 'added later';
		INSERT INTO b VALUES (2, 2, 'two'); INSERT INTO a VALUES (11, 11)"
	wait_for 60 followed c_ddl.b 'column "w" was added' || fail "b did not follow: $(table_error c_ddl.b)"
	wait_for 60 streaming c_ddl 3 || fail "b did not stream again: $(table_error c_ddl.b)"
	my_q c_ddl -e "UPDATE b SET w = 'upd' WHERE id = 1"
	wait_for 30 caught_up c_ddl || fail "not caught up"
	assert_eq "1|1|upd 2|2|two" "$(rows c_ddl.b)" "b with its new column"
	assert_eq "added later" "$(psql_q -c "SELECT col_description('c_ddl.b'::regclass, 3)")" "the column's comment"
	assert_eq "10|10 11|11" "$(rows c_ddl.a)" "a went on"
	assert_eq "1" "$(psql_q -c "SELECT count(*) FROM ecsync.run_tables WHERE table_name = 'c_ddl.b' AND mode = 'cdc snapshot'
		AND run_id > (SELECT min(run_id) FROM ecsync.run_tables WHERE table_name = 'c_ddl.b')")" "one more snapshot of b"
	# widened columns are widened in the target: a longer VARCHAR, a wider integer
	my_q c_ddl -e "ALTER TABLE b MODIFY w VARCHAR(100) DEFAULT 'new'"
	my_q c_ddl -e "INSERT INTO b VALUES (3, 3, REPEAT('x', 50))"
	wait_for 60 followed c_ddl.b 'column "w" is now' || fail "b did not follow the longer VARCHAR: $(table_error c_ddl.b)"
	wait_for 60 streaming c_ddl 3 || fail "b did not stream again: $(table_error c_ddl.b)"
	# a view on the column keeps it integer: the copy fails on the value that does not fit
	psql_q -c "CREATE VIEW c_ddl.b_v AS SELECT id, v FROM c_ddl.b"
	my_q c_ddl -e "ALTER TABLE b MODIFY v BIGINT; UPDATE b SET v = 5000000000 WHERE id = 3"
	wait_for 60 followed c_ddl.b 'column "v" is now' || fail "b did not follow the wider integer: $(table_error c_ddl.b)"
	wait_for 60 table_is c_ddl.b paused || fail "b did not pause: $(table_state c_ddl.b)"
	assert_contains 'out of range for type integer' "$(table_error c_ddl.b)" "the value that does not fit"
	assert_contains 'column "v" of c_ddl.b keeps its type, not MySQL'"'"'s wider bigint' "$(pg_log)" "the warning"
	psql_q -c "DROP VIEW c_ddl.b_v" -c "SELECT ecsync_cdc_resnapshot('c_ddl', 'c_ddl.b')" >/dev/null
	wait_for 60 streaming c_ddl 3 || fail "b did not stream again: $(table_error c_ddl.b)"
	wait_for 30 caught_up c_ddl || fail "not caught up"
	assert_eq "bigint character varying(100)" "$(psql_q -c "SELECT string_agg(format_type(atttypid, atttypmod), ' ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = 'c_ddl.b'::regclass AND attname IN ('v', 'w')")" "b's types widened"
	assert_eq "3|5000000000|50" "$(psql_q -c "SELECT id, v, length(w) FROM c_ddl.b WHERE id = 3")" "the wide row"
	assert_eq "" "$(table_error c_ddl.b)" "no error"
	# a dropped column pauses b, with what changed and what to do
	my_q c_ddl -e "ALTER TABLE b DROP COLUMN w; INSERT INTO b VALUES (4, 4); INSERT INTO a VALUES (12, 12)"
	wait_for 30 caught_up c_ddl || fail "not caught up"
	assert_eq paused "$(table_state c_ddl.b)" "b paused"
	assert_contains 'column "w" was dropped or renamed' "$(table_error c_ddl.b)" "the error says what changed"
	assert_contains "ecsync_cdc_resnapshot('c_ddl', 'c_ddl.b')" "$(table_error c_ddl.b)" "the error says what to do"
	assert_eq 3 "$(psql_q -c "SELECT count(*) FROM c_ddl.b")" "no row of the new shape applied"
	assert_eq "10|10 11|11 12|12" "$(rows c_ddl.a)" "a went on"
	psql_q -c "ALTER TABLE c_ddl.b DROP COLUMN w" -c "SELECT ecsync_cdc_resnapshot('c_ddl', 'c_ddl.b')" >/dev/null
	wait_for 60 streaming c_ddl 3 || fail "b did not stream again: $(table_error c_ddl.b)"
	wait_for 30 caught_up c_ddl || fail "not caught up"
	assert_eq "1|1 2|2 3|5000000000 4|4" "$(rows c_ddl.b)" "b re-snapshotted"
	# cdc_schema_changes pause: an added column pauses too, and the call adds it
	out=$(psql_q -c "ALTER SERVER c_ddl OPTIONS (ADD cdc_schema_changes 'maybe')" 2>&1) && fail "a bad value was taken"
	assert_contains 'invalid cdc_schema_changes "maybe"' "$out" "the option's values are checked"
	stop_cdc c_ddl
	psql_q -c "ALTER SERVER c_ddl OPTIONS (ADD cdc_schema_changes 'pause')" -c "SELECT ecsync_start_cdc('c_ddl')" >/dev/null
	my_q c_ddl -e "INSERT INTO b VALUES (7, 7)"	# streaming again once it arrives
	wait_for 30 has_row c_ddl.b 7 || fail "b does not stream: $(table_error c_ddl.b)"
	my_q c_ddl -e "ALTER TABLE b ADD COLUMN z INT; INSERT INTO b VALUES (5, 5, 5)"
	wait_for 30 caught_up c_ddl || fail "not caught up"
	assert_eq paused "$(table_state c_ddl.b)" "b paused by the added column"
	assert_contains 'column "z" was added (it has 3 columns, had 2)' "$(table_error c_ddl.b)" "the error says what changed"
	psql_q -c "SELECT ecsync_cdc_resnapshot('c_ddl', 'c_ddl.b')" >/dev/null
	wait_for 60 streaming c_ddl 3 || fail "b did not stream again: $(table_error c_ddl.b)"
	wait_for 30 caught_up c_ddl || fail "not caught up"
	assert_eq "5|5|5" "$(psql_q -c "SELECT * FROM c_ddl.b WHERE id = 5")" "the call added the column"
	# an online schema change's table swap (gh-ost, pt-osc) pauses a
	my_q c_ddl -e "CREATE TABLE _a_gho LIKE a; ALTER TABLE _a_gho ADD INDEX (v); INSERT INTO _a_gho SELECT * FROM a;
		RENAME TABLE a TO _a_del, _a_gho TO a; INSERT INTO a VALUES (13, 13); INSERT INTO b VALUES (6, 6, 6)"
	wait_for 30 caught_up c_ddl || fail "not caught up"
	assert_eq paused "$(table_state c_ddl.a)" "a paused by the swap"
	assert_contains "dropped or renamed" "$(table_error c_ddl.a)" "the error says what happened"
	assert_eq 7 "$(psql_q -c "SELECT count(*) FROM c_ddl.b")" "b goes on"
	psql_q -c "SELECT ecsync_cdc_resnapshot('c_ddl', 'c_ddl.a')" >/dev/null
	wait_for 60 streaming c_ddl 3 || fail "a did not stream again: $(table_error c_ddl.a)"
	wait_for 30 caught_up c_ddl || fail "not caught up"
	assert_eq "10|10 11|11 12|12 13|13" "$(rows c_ddl.a)" "a re-snapshotted"
	cdc_done c_ddl
}

purge_all() {
	my_q -e "PURGE BINARY LOGS TO '$(master_status | cut -f1)'"
	[ "$(my_q -e "SHOW BINARY LOGS" | wc -l)" = 1 ]
}

no_binlog_readers() {
	[ "$(my_q -e "SELECT count(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")" = 0 ]
}

test_a_purged_binary_log_says_so_and_one_call_recovers() {
	# MariaDB keeps a file any reader still reads: stop every other capture
	export PGDATABASE=ecsync PGTZ=UTC
	local s
	for s in $(psql_q -c "SELECT server_name FROM ecsync.cdc_servers WHERE state = 'started'" 2>/dev/null); do
		stop_cdc "$s"
	done
	my_q -e "DROP DATABASE IF EXISTS c_purge; CREATE DATABASE c_purge"
	my_q c_purge -e "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)"
	cdc_server c_purge c_purge
	psql_q -c "DROP SCHEMA IF EXISTS c_purge CASCADE"
	psql_q -c "SELECT ecsync_register_table('c_purge', 't', 't', mode => 'cdc', target_schema => 'c_purge')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_purge')" >/dev/null
	wait_for 60 streaming c_purge 1 || fail "never streamed"
	wait_for 30 caught_up c_purge || fail "not caught up"
	stop_cdc c_purge
	my_q c_purge -e "INSERT INTO t VALUES (2, 2); FLUSH BINARY LOGS; INSERT INTO t VALUES (3, 3); FLUSH BINARY LOGS"
	# a dump thread notices its reader left at its next heartbeat
	wait_for 10 no_binlog_readers || fail "binary log readers left: $(my_q -e "SHOW PROCESSLIST")"
	# MariaDB keeps a file until InnoDB has flushed its transactions (a
	# binlog checkpoint, within a second here): purge until it lets go
	wait_for 30 purge_all || fail "binary logs left after the purge: $(my_q -e "SHOW BINARY LOGS")"
	psql_q -c "SELECT ecsync_start_cdc('c_purge')" >/dev/null
	wait_for 30 error_contains c_purge "no longer has the binary log" || fail "no clear error: $(last_error c_purge)"
	assert_contains "ecsync_cdc_resnapshot('c_purge')" "$(last_error c_purge)" "the error says what to do"
	psql_q -c "SELECT ecsync_cdc_resnapshot('c_purge')" >/dev/null
	wait_for 60 caught_up c_purge || fail "not caught up after the re-snapshot: $(last_error c_purge)"
	my_q c_purge -e "INSERT INTO t VALUES (4, 4)"
	wait_for 30 caught_up c_purge || fail "not caught up"
	assert_eq "1 2 3 4" "$(psql_q -c "SELECT id FROM c_purge.t ORDER BY id" | tr '\n' ' ' | sed 's/ $//')" "rows after the re-snapshot"
	assert_eq "" "$(last_error c_purge)" "the error is past"
	cdc_done c_purge
}

test_preconditions_say_what_to_set() {
	my_q -e "DROP DATABASE IF EXISTS c_pre; CREATE DATABASE c_pre"
	my_q c_pre -e "CREATE TABLE t (id INT PRIMARY KEY, v INT)"
	cdc_server c_pre c_pre
	psql_q -c "DROP SCHEMA IF EXISTS c_pre CASCADE"
	psql_q -c "SELECT ecsync_register_table('c_pre', 't', 't', mode => 'cdc', target_schema => 'c_pre')" >/dev/null
	local setting value want
	for setting in "binlog_format MIXED ROW" "binlog_row_image MINIMAL FULL" "binlog_row_metadata MINIMAL FULL"; do
		read -r setting value want <<<"$setting"
		my_q -e "SET GLOBAL $setting = '$value'"
		psql_q -c "SELECT ecsync_start_cdc('c_pre')" >/dev/null
		wait_for 30 error_contains c_pre "$setting is $value" || { my_q -e "SET GLOBAL $setting = '$want'"; fail "$setting: $(last_error c_pre)"; }
		my_q -e "SET GLOBAL $setting = '$want'"
		assert_contains "needs $want" "$(last_error c_pre)" "the error says what $setting must be"
		assert_eq snapshot "$(table_state c_pre.t)" "no snapshot while the binary log cannot be read"
		stop_cdc c_pre
	done
	# our server_id must not be the server's
	psql_q -c "ALTER SERVER c_pre OPTIONS (ADD cdc_server_id '1')"
	psql_q -c "SELECT ecsync_start_cdc('c_pre')" >/dev/null
	wait_for 30 error_contains c_pre "server_id is 1" || fail "server_id: $(last_error c_pre)"
	assert_contains "cdc_server_id" "$(last_error c_pre)" "the error names the option"
	stop_cdc c_pre
	psql_q -c "ALTER SERVER c_pre OPTIONS (DROP cdc_server_id)"
	# an account without the binary log's grants
	local pw=cdc_pre_Pw_4521
	my_q -e "DROP USER IF EXISTS 'cdc_pre'@'127.0.0.1'; CREATE USER 'cdc_pre'@'127.0.0.1' IDENTIFIED BY '$pw';
		GRANT SELECT ON c_pre.* TO 'cdc_pre'@'127.0.0.1'"
	psql_q -c "ALTER USER MAPPING FOR CURRENT_USER SERVER c_pre OPTIONS (SET user 'cdc_pre', SET password '$pw')"
	psql_q -c "SELECT ecsync_start_cdc('c_pre')" >/dev/null
	wait_for 30 error_contains c_pre "GRANT $binlog_monitor, REPLICATION SLAVE" || fail "grants: $(last_error c_pre)"
	stop_cdc c_pre
	my_q -e "GRANT $binlog_monitor ON *.* TO 'cdc_pre'@'127.0.0.1'"
	if [ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ]; then
		# MySQL has no lock-free snapshot position: its snapshot needs RELOAD
		psql_q -c "SELECT ecsync_start_cdc('c_pre')" >/dev/null
		wait_for 60 error_contains c_pre "GRANT RELOAD" || fail "grants: $(last_error c_pre)"
		stop_cdc c_pre
		my_q -e "GRANT RELOAD ON *.* TO 'cdc_pre'@'127.0.0.1'"
	fi
	psql_q -c "SELECT ecsync_start_cdc('c_pre')" >/dev/null
	wait_for 60 error_contains c_pre "REPLICATION SLAVE" || fail "grants: $(last_error c_pre)"
	stop_cdc c_pre
	my_q -e "GRANT REPLICATION SLAVE ON *.* TO 'cdc_pre'@'127.0.0.1'"
	psql_q -c "SELECT ecsync_start_cdc('c_pre')" >/dev/null
	my_q c_pre -e "INSERT INTO t VALUES (1, 1)"
	wait_for 60 caught_up c_pre || fail "with every grant it still fails: $(last_error c_pre)"
	assert_eq "1|1" "$(psql_q -c "SELECT * FROM c_pre.t")" "rows with the least privileges"
	cdc_done c_pre
	my_q -e "DROP USER 'cdc_pre'@'127.0.0.1'"
}

# as_role ROLE SQL: run SQL as ROLE (a superuser's SET ROLE: no password needed)
as_role() { psql_q -c "SET ROLE $1" -c "$2"; }

# fk_rows TABLE COLS: a table's rows on both sides, "MySQL / PostgreSQL"
fk_rows() {
	local my pg
	my=$(my_q c_fk -e "SELECT CONCAT_WS('|', $2) FROM $1 ORDER BY id" | tr '\n' ' ')
	pg=$(psql_q -c "SELECT concat_ws('|', $2) FROM c_fk.$1 ORDER BY id" | tr '\n' ' ')
	echo "$my/ $pg"
}
fk_equal() { local r; r=$(fk_rows "$1" "$2"); [ "${r%%/*}" = "${r#*/ }" ]; }
fk_counts() { psql_q -c "SELECT inserts || ' ' || updates || ' ' || deletes FROM ecsync.cdc_table_status WHERE table_name = 'c_fk.$1'"; }
fk_note() { psql_q -c "SELECT coalesce(cascades, '') FROM ecsync.cdc_table_status WHERE table_name = 'c_fk.$1'"; }
fk_noted() { [ -n "$(fk_note "$1")" ]; }
fk_delete_parents() {
	local i
	for i in $(seq 1 300); do my_q c_fk -e "DELETE FROM fkh WHERE id = $i"; done
}

# Foreign-key cascades: InnoDB runs them, and MariaDB (and MySQL with
# InnoDB's own keys) logs only the parent's row, so the worker runs them
# on the targets as a replica would: ON DELETE CASCADE down a chain of two,
# SET NULL, ON UPDATE CASCADE and SET NULL, a self-reference, a parent that
# is not registered, a child inserted and cascaded away in one transaction,
# and parents deleted while a child table's snapshot hands over to the
# stream.  MySQL 9.7 logs its cascades (SQL-layer keys): they must not be
# applied twice.  Each table is compared row by row, and the changes counted.
test_foreign_key_cascades_reach_the_children_as_on_a_replica() {
	local t note
	my_q -e "DROP DATABASE IF EXISTS c_fk; CREATE DATABASE c_fk"
	my_q c_fk -e "CREATE TABLE fkp (id INT PRIMARY KEY, v VARCHAR(20));
		CREATE TABLE fkc (id INT PRIMARY KEY, pid INT, v VARCHAR(20), FOREIGN KEY (pid) REFERENCES fkp (id) ON DELETE CASCADE ON UPDATE CASCADE);
		CREATE TABLE fkn (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES fkp (id) ON DELETE SET NULL ON UPDATE SET NULL);
		CREATE TABLE fkg (id INT PRIMARY KEY, cid INT, FOREIGN KEY (cid) REFERENCES fkc (id) ON DELETE CASCADE);
		CREATE TABLE fkr (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES fkp (id));
		CREATE TABLE fks (id INT PRIMARY KEY, parent INT, FOREIGN KEY (parent) REFERENCES fks (id) ON DELETE CASCADE);
		CREATE TABLE fkq (id INT PRIMARY KEY);
		CREATE TABLE fkqc (id INT PRIMARY KEY, qid INT, FOREIGN KEY (qid) REFERENCES fkq (id) ON DELETE CASCADE);
		CREATE TABLE fkm (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES fkp (id) ON DELETE CASCADE);
		CREATE TABLE fkmc (id INT PRIMARY KEY, mid INT, FOREIGN KEY (mid) REFERENCES fkm (id) ON DELETE CASCADE);
		CREATE TABLE fkh (id INT PRIMARY KEY);
		CREATE TABLE fkhc (id INT PRIMARY KEY, hid INT, FOREIGN KEY (hid) REFERENCES fkh (id) ON DELETE CASCADE);
		INSERT INTO fkp VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four'), (5, 'five');
		INSERT INTO fkc VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c'), (13, 3, 'd');
		INSERT INTO fkn VALUES (20, 1), (21, 2), (22, 5);
		INSERT INTO fkg VALUES (30, 10), (31, 12);
		INSERT INTO fkr VALUES (40, 5);
		INSERT INTO fks VALUES (1, NULL), (2, 1), (3, 2), (4, NULL), (5, 4);
		INSERT INTO fkq VALUES (1), (2); INSERT INTO fkqc VALUES (5, 1), (6, 2);
		INSERT INTO fkm VALUES (50, 1), (51, 1); INSERT INTO fkmc VALUES (60, 50), (61, 51);
		INSERT INTO fkh SELECT seq FROM ($(seq_sql 600)) s;
		INSERT INTO fkhc SELECT seq, seq FROM ($(seq_sql 600)) s; INSERT INTO fkhc SELECT seq + 1000, seq FROM ($(seq_sql 600)) s"
	cdc_server c_fk c_fk
	psql_q -c "DROP SCHEMA IF EXISTS c_fk CASCADE"
	for t in fkp fkc fkn fkg fkr fks fkqc fkmc fkh; do
		psql_q -c "SELECT ecsync_register_table('c_fk', '$t', '$t', mode => 'cdc', target_schema => 'c_fk')" >/dev/null
	done
	psql_q -c "SELECT ecsync_start_cdc('c_fk')" >/dev/null
	wait_for 60 streaming c_fk 9 || fail "the tables never streamed: $(last_error c_fk)"
	# what each table gets is said before any change (when the stream starts)
	wait_for 30 fk_noted fkc || fail "no cascades noted for fkc"
	if [ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ]; then
		assert_contains "MySQL logs the rows it changes" "$(fk_note fkc)" "fkc on a server that logs its cascades"
	else
		assert_contains "ON DELETE CASCADE, ON UPDATE CASCADE from c_fk.fkp" "$(fk_note fkc)" "fkc's cascades"
		assert_contains "applied by ecsync" "$(fk_note fkc)" "fkc's cascades are applied"
		assert_contains "ON DELETE SET NULL, ON UPDATE SET NULL from c_fk.fkp" "$(fk_note fkn)" "fkn's"
		assert_contains "the parent is read from the binary log, not registered" "$(fk_note fkqc)" "fkqc's parent"
		assert_contains "register c_fk.fkm too" "$(fk_note fkmc)" "a chain through a table not registered"
		assert_contains "child c_fk.fkm" "$(fk_note fkp)" "a child that is not registered"
	fi
	assert_eq "" "$(fk_note fkr)" "a key without an acting rule"
	my_q c_fk -e "DELETE FROM fkp WHERE id = 1; UPDATE fkp SET id = 30 WHERE id = 3; UPDATE fkp SET id = 20 WHERE id = 2;
		START TRANSACTION; INSERT INTO fkc VALUES (14, 4, 'new'); INSERT INTO fkg VALUES (32, 14); DELETE FROM fkp WHERE id = 4; COMMIT;
		DELETE FROM fks WHERE id = 1; UPDATE fks SET id = 40 WHERE id = 5; DELETE FROM fkq WHERE id = 1; UPDATE fkp SET v = 'same key' WHERE id = 5"
	wait_for 60 caught_up c_fk || fail "not caught up: $(last_error c_fk)"
	assert_eq "" "$(last_error c_fk)" "no error"
	# (CONCAT_WS leaves NULLs out on both sides)
	for t in "fkp id,v" "fkc id,pid,v" "fkn id,pid" "fkg id,cid" "fkr id,pid" "fks id,parent" "fkqc id,qid"; do
		fk_equal "${t% *}" "${t#* }" || fail "${t% *} differs (MySQL / PostgreSQL): $(fk_rows "${t% *}" "${t#* }")"
	done
	assert_eq "1 2 3" "$(fk_counts fkc)" "fkc: one insert, two keys cascaded, three rows deleted"
	assert_eq "1 0 2" "$(fk_counts fkg)" "fkg: the chain's deletes"
	assert_eq "0 2 0" "$(fk_counts fkn)" "fkn: set NULL on a delete and on an update"
	assert_eq "0 1 3" "$(fk_counts fks)" "fks: a self-reference"
	assert_eq "0 0 1" "$(fk_counts fkqc)" "fkqc: from a parent not registered"
	assert_eq "0 0 0" "$(fk_counts fkr)" "fkr: no rule, no change"
	# a child registered while its parents are deleted: the cascades before
	# its snapshot are in it, those after it are applied, none twice
	fk_delete_parents &
	local bg=$!
	psql_q -c "SELECT ecsync_register_table('c_fk', 'fkhc', 'fkhc', mode => 'cdc', target_schema => 'c_fk')" >/dev/null
	wait $bg
	wait_for 60 streaming c_fk 10 || fail "fkhc never streamed: $(last_error c_fk)"
	wait_for 60 caught_up c_fk || fail "not caught up after the hand-off: $(last_error c_fk)"
	fk_equal fkhc "id,hid" || fail "fkhc differs after the hand-off: $(fk_rows fkhc "id,hid" | cut -c1-300)"
	assert_eq "600" "$(psql_q -c "SELECT count(*) FROM c_fk.fkhc")" "fkhc's rows: two for each parent left"
	cdc_done c_fk
	my_q -e "DROP DATABASE c_fk"
}

# An idle server: its heartbeats (asked for by the names MariaDB and MySQL
# 8.4+ read) keep the stream's connection alive well past the read
# timeout, with the same worker, no error, and the lag 0.
test_an_idle_stream_lives_on_heartbeats_past_the_read_timeout() {
	local pid
	my_q -e "DROP DATABASE IF EXISTS c_idle; CREATE DATABASE c_idle"
	my_q c_idle -e "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)"
	cdc_server c_idle c_idle "read_timeout '10'"
	psql_q -c "DROP SCHEMA IF EXISTS c_idle CASCADE"
	psql_q -c "SELECT ecsync_register_table('c_idle', 't', 't', mode => 'cdc', target_schema => 'c_idle')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_idle')" >/dev/null
	wait_for 60 streaming c_idle 1 || fail "never streamed: $(last_error c_idle)"
	wait_for 30 caught_up c_idle || fail "not caught up"
	pid=$(worker_pid c_idle)
	sleep 16
	assert_eq "$pid" "$(worker_pid c_idle)" "the same worker after 16 s idle with a 10 s read timeout"
	assert_eq "" "$(last_error c_idle)" "no error"
	my_q c_idle -e "INSERT INTO t VALUES (2, 2)"
	wait_for 30 has_row c_idle.t 2 || fail "a change after the idle time never came: $(last_error c_idle)"
	cdc_done c_idle
	my_q -e "DROP DATABASE c_idle"
}

# An update or delete finds its row with a dirty snapshot and does not lock
# it first: a session writing the same target row at that moment is waited
# for (its row stays as MySQL's after the update, whether it commits or
# rolls back), and the other rows' changes go on after it.
test_a_session_writing_a_target_row_is_waited_for() {
	local holder
	my_q -e "DROP DATABASE IF EXISTS c_wait; CREATE DATABASE c_wait"
	my_q c_wait -e "CREATE TABLE t (id INT PRIMARY KEY, v INT, note VARCHAR(20)); INSERT INTO t VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c')"
	cdc_server c_wait c_wait
	psql_q -c "DROP SCHEMA IF EXISTS c_wait CASCADE"
	psql_q -c "SELECT ecsync_register_table('c_wait', 't', 't', mode => 'cdc', target_schema => 'c_wait')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('c_wait')" >/dev/null
	wait_for 60 streaming c_wait 1 || fail "never streamed: $(last_error c_wait)"
	wait_for 30 caught_up c_wait || fail "not caught up"
	# a session holds row 1 (an uncommitted update), then commits its own value
	psql_q -c "BEGIN" -c "UPDATE c_wait.t SET note = 'session' WHERE id = 1" -c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null &
	holder=$!
	sleep 1
	my_q c_wait -e "UPDATE t SET v = 10 WHERE id = 1; DELETE FROM t WHERE id = 2"
	wait_for 10 cdc_waits_for_lock c_wait || fail "the worker did not wait for the session's row"
	assert_eq "1|1|a 2|2|b 3|3|c" "$(rows c_wait.t)" "nothing applied while the row is held"
	wait $holder
	wait_for 30 caught_up c_wait || fail "not caught up after the session committed: $(last_error c_wait)"
	assert_eq "1|10|a 3|3|c" "$(rows c_wait.t)" "MySQL's rows once the session committed"
	# the same with a session that rolls back, and a delete
	psql_q -c "BEGIN" -c "UPDATE c_wait.t SET note = 'x' WHERE id = 3" -c "SELECT pg_sleep(3)" -c "ROLLBACK" >/dev/null &
	holder=$!
	sleep 1
	my_q c_wait -e "DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (4, 4, 'd')"
	wait $holder
	wait_for 30 caught_up c_wait || fail "not caught up after the rollback: $(last_error c_wait)"
	assert_eq "1|10|a 4|4|d" "$(rows c_wait.t)" "MySQL's rows once the session rolled back"
	assert_eq "" "$(last_error c_wait)" "no error"
	cdc_done c_wait
	my_q -e "DROP DATABASE c_wait"
}

cdc_waits_for_lock() {
	[ "$(psql_q -c "SELECT wait_event_type FROM pg_stat_activity WHERE application_name = 'ecsync cdc of server $1'")" = Lock ]
}

test_another_role_can_neither_see_nor_steer_change_capture() {
	export PGDATABASE=ecsync PGTZ=UTC
	psql_q -c "CREATE EXTENSION IF NOT EXISTS ecsync"
	my_q -e "DROP DATABASE IF EXISTS c_sec; CREATE DATABASE c_sec"
	my_q c_sec -e "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)"
	local r
	for r in cdc_alice cdc_bob; do
		psql_q -c "DROP OWNED BY $r CASCADE" 2>/dev/null || true
		psql_q -c "DROP ROLE IF EXISTS $r"
		psql_q -c "CREATE ROLE $r LOGIN"
		psql_q -c "GRANT CREATE ON DATABASE ecsync TO $r"
	done
	psql_q -c "DROP SERVER IF EXISTS c_sec CASCADE"
	psql_q -c "DELETE FROM ecsync.cdc_servers WHERE server_name = 'c_sec'"
	psql_q -c "CREATE SERVER c_sec FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database 'c_sec'${ECSYNC_MYSQL_SERVER_TLS:-})"
	cdc_done_on_exit c_sec
	psql_q -c "GRANT USAGE ON FOREIGN SERVER c_sec TO cdc_alice, cdc_bob"
	for r in cdc_alice cdc_bob; do
		psql_q <<-EOF
		CREATE USER MAPPING FOR $r SERVER c_sec OPTIONS (user 'ecsync', password '$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")')
		EOF
	done
	psql_q -c "CREATE SCHEMA c_sec_alice AUTHORIZATION cdc_alice"
	as_role cdc_alice "SELECT ecsync_register_table('c_sec', 't', 't', mode => 'cdc', target_schema => 'c_sec_alice')" >/dev/null
	as_role cdc_alice "SELECT ecsync_start_cdc('c_sec')" >/dev/null
	wait_for 60 streaming c_sec 1 || fail "alice's table never streamed: $(last_error c_sec)"
	my_q c_sec -e "INSERT INTO t VALUES (2, 2)"
	wait_for 30 caught_up c_sec || fail "not caught up"
	assert_eq 2 "$(as_role cdc_alice "SELECT count(*) FROM c_sec_alice.t")" "alice's rows, applied as alice"
	# bob sees nothing of it and can change nothing
	assert_eq 0 "$(as_role cdc_bob "SELECT count(*) FROM ecsync.cdc_status")" "bob sees no server"
	assert_eq 0 "$(as_role cdc_bob "SELECT count(*) FROM ecsync.cdc_table_status")" "bob sees no table"
	local out
	out=$(as_role cdc_bob "SELECT ecsync_stop_cdc('c_sec')" 2>&1) && fail "bob stopped alice's change capture"
	assert_contains "belongs to" "$out" "stop refused"
	out=$(as_role cdc_bob "SELECT ecsync_cdc_resnapshot('c_sec')" 2>&1) && fail "bob re-snapshotted alice's tables"
	assert_contains "belongs to" "$out" "re-snapshot refused"
	out=$(as_role cdc_bob "SELECT ecsync_register_table('c_sec', 't', 't2', mode => 'cdc', target_schema => 'public')" 2>&1) &&
		fail "bob added a table to alice's change capture"
	assert_contains "belongs to another role" "$out" "registration refused"
	out=$(as_role cdc_bob "UPDATE ecsync.cdc_servers SET owner = 10" 2>&1) && fail "bob wrote the catalog"
	assert_contains "permission denied" "$out" "catalog not writable"
	assert_eq "t" "$(psql_q -c "SELECT worker_running FROM ecsync.cdc_status WHERE server_name = 'c_sec'")" "still running"
	as_role cdc_alice "SELECT ecsync_stop_cdc('c_sec')" >/dev/null
	cdc_done c_sec
}
