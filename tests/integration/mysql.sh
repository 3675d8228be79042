# What only a MySQL 8.4/9.x server writes to its binary log, applied by
# change capture: compressed transactions (TRANSACTION_PAYLOAD, zstd) and
# GTIDs.  This group runs in the mysql9 pass only (mysql9/mysql/<name>),
# against the real MySQL 9.7 of the mysql9 stack; MariaDB has neither.

# shellcheck source=tests/integration/cdc.sh
. "$ECSYNC_TOP/tests/integration/cdc.sh"

[ "${ECSYNC_MYSQL_FLAVOR:-}" = mysql ] || { echo "the mysql group needs a MySQL stack (mysql9)" >&2; exit 1; }

# last_gtid: the server's last transaction, uuid:number
last_gtid() { my_q -e "SELECT @@server_uuid, GTID_SUBTRACT(@@gtid_executed, '')" | awk -F'\t' '{ n = split($2, a, /[-:,]/); print $1 ":" a[n] }'; }
cdc_gtid() { psql_q -c "SELECT gtid FROM ecsync.cdc_status WHERE server_name = '$1'"; }

# Transactions written compressed (binlog_transaction_compression, a
# session setting) between plain ones, over two tables, one of 20,000
# rows: every row applied, the worker never restarted, the position after
# each the server's own, and the last GTID recorded.
test_compressed_transactions_apply_every_row_at_exact_positions() {
	my_q -e "DROP DATABASE IF EXISTS m_zstd; CREATE DATABASE m_zstd"
	my_q m_zstd -e "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(100), n INT); CREATE TABLE b (id INT PRIMARY KEY, a_id INT, note TEXT)"
	cdc_server m_zstd m_zstd
	psql_q -c "DROP SCHEMA IF EXISTS m_zstd CASCADE"
	psql_q -c "SELECT ecsync_register_table('m_zstd', 'a', 'a', mode => 'cdc', target_schema => 'm_zstd')" \
		-c "SELECT ecsync_register_table('m_zstd', 'b', 'b', mode => 'cdc', target_schema => 'm_zstd')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('m_zstd')" >/dev/null
	wait_for 60 streaming m_zstd 2 || fail "the tables never streamed: $(last_error m_zstd)"
	local pid start file
	pid=$(worker_pid m_zstd)
	start=$(master_position)
	my_q m_zstd -e "SET SESSION binlog_transaction_compression = ON; SET SESSION cte_max_recursion_depth = 100000;
		INSERT INTO a VALUES (1, 'one', 1), (2, 'two', 2);
		START TRANSACTION;
		INSERT INTO a SELECT seq, REPEAT('x', 90), seq FROM (WITH RECURSIVE s(seq) AS (SELECT 3 UNION ALL SELECT seq + 1 FROM s WHERE seq < 20000) SELECT seq FROM s) q;
		INSERT INTO b SELECT id, id, CONCAT('note ', id, ' 😀') FROM a WHERE id % 7 = 0;
		UPDATE a SET n = -n WHERE id % 3 = 0;
		DELETE FROM a WHERE id % 11 = 0;
		COMMIT;
		SET SESSION binlog_transaction_compression = OFF;
		INSERT INTO a VALUES (30000, 'plain', 0);
		SET SESSION binlog_transaction_compression = ON;
		UPDATE b SET note = 'compressed again' WHERE id < 100;"
	# the server really compressed them
	file=${start%:*}
	[ "$(my_q -e "SHOW BINLOG EVENTS IN '$file' FROM ${start#*:}" | awk -F'\t' '$3 == "Transaction_payload"' | wc -l)" -ge 3 ] ||
		fail "MySQL wrote no compressed transactions"
	wait_for 60 caught_up m_zstd || fail "not caught up: $(applied_position m_zstd) of $(master_position): $(last_error m_zstd)"
	# the worker's reader, built with ASan and UBSan, reads the compressed
	# transactions as the plain build does, with no report and no leak
	make -s -C "$ECSYNC_TOP/tests/gen" binlogcat binlogcat-san >/dev/null
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
		"$binlogcat-san" --pipe "${start%:*}" "${start#*:}" >"$ECSYNC_RUN_DIR/m_zstd.san" 2>"$ECSYNC_RUN_DIR/m_zstd.san.err" ||
		fail "binlogcat-san failed: $(tail -n 20 "$ECSYNC_RUN_DIR/m_zstd.san.err")"
	"$binlogcat" "${start%:*}" "${start#*:}" | cmp -s - "$ECSYNC_RUN_DIR/m_zstd.san" || fail "binlogcat-san read otherwise than binlogcat"
	assert_eq 20001 "$(awk -F'\t' '$2 == "m_zstd.a" && $1 == "I"' "$ECSYNC_RUN_DIR/m_zstd.san" | wc -l)" "rows inserted into a, read back from the binary log"
	assert_eq "$(my_q m_zstd -e "SELECT CONCAT(id, '|', v, '|', n) FROM a ORDER BY id" | md5sum)" \
		"$(psql_q -c "SELECT concat(id, '|', v, '|', n) FROM m_zstd.a ORDER BY id" | md5sum)" "table a"
	assert_eq "$(my_q m_zstd -e "SELECT CONCAT(id, '|', a_id, '|', note) FROM b ORDER BY id" | md5sum)" \
		"$(psql_q -c "SELECT concat(id, '|', a_id, '|', note) FROM m_zstd.b ORDER BY id" | md5sum)" "table b"
	assert_eq "$(my_q m_zstd -e "SELECT count(*) FROM a")" "$(psql_q -c "SELECT count(*) FROM m_zstd.a")" "rows of a"
	assert_eq "$pid" "$(worker_pid m_zstd)" "the same worker, never restarted"
	assert_eq "" "$(last_error m_zstd)" "no error"
	wait_for 10 gtid_is m_zstd "$(last_gtid)" || fail "cdc_status.gtid is '$(cdc_gtid m_zstd)', not the server's last '$(last_gtid)'"
	# a restart resumes at the stored position: nothing applied twice
	psql_q -c "SELECT pg_terminate_backend($pid)" >/dev/null
	wait_for 30 worker_running m_zstd || fail "no new worker"
	my_q m_zstd -e "SET SESSION binlog_transaction_compression = ON; INSERT INTO a VALUES (30001, 'after', 1)"
	wait_for 60 caught_up m_zstd || fail "not caught up after the restart: $(last_error m_zstd)"
	assert_eq "$(my_q m_zstd -e "SELECT CONCAT(id, '|', v, '|', n) FROM a ORDER BY id" | md5sum)" \
		"$(psql_q -c "SELECT concat(id, '|', v, '|', n) FROM m_zstd.a ORDER BY id" | md5sum)" "table a after the restart"
	cdc_done m_zstd
	my_q -e "DROP DATABASE m_zstd"
}

gtid_is() { [ "$(cdc_gtid "$1")" = "$2" ]; }

# rsa_server NAME MODE KEYFILE: a source for MySQL user m_rsa (whose only
# plugin is caching_sha2_password), with the server's RSA key pinned
rsa_server() {
	psql_q -c "CREATE SERVER $1 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host '127.0.0.1',
	           port '$ECSYNC_MYSQL_PORT', database 'm_rsa', ssl_mode '$2' ${3:+, server_public_key '$3'})"
	psql_q <<-SQL
	CREATE USER MAPPING FOR CURRENT_USER SERVER $1 OPTIONS (user 'm_rsa', password 'rsa-Pa55')
	SQL
}

# run_rsa TABLE: a batch of m_rsa.t into TABLE, after the server forgot
# every cached password (FLUSH PRIVILEGES): the full authentication runs
run_rsa() {
	my_q -e "FLUSH PRIVILEGES"
	psql_q -c "SELECT ecsync_register_table('$2', 't', '$1')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch('$1')" 2>&1
}

# MySQL's other safe way for caching_sha2_password: without TLS, the
# password encrypted under the server's RSA key, pinned in a file.  A key
# that is not the server's, a missing file and a mode that would send the
# password in clear over unverified TLS are refused, and nothing is copied.
test_a_pinned_rsa_key_lets_caching_sha2_password_connect_without_tls() {
	local dir out
	my_q -e "DROP DATABASE IF EXISTS m_rsa; CREATE DATABASE m_rsa;
	         CREATE TABLE m_rsa.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO m_rsa.t VALUES (1, 'pinned');
	         DROP USER IF EXISTS 'm_rsa'@'127.0.0.1';
	         CREATE USER 'm_rsa'@'127.0.0.1' IDENTIFIED WITH caching_sha2_password BY 'rsa-Pa55';
	         GRANT SELECT ON m_rsa.* TO 'm_rsa'@'127.0.0.1'"
	pg_db m_rsa m_rsa
	dir=$(mktemp -d /tmp/ecsync-rsa-XXXXXX)
	chmod 755 "$dir"
	my_q -e "SHOW STATUS LIKE 'Caching_sha2_password_rsa_public_key'" | cut -f2 | sed 's/\\n/\n/g' >"$dir/server.pem"
	grep -q "BEGIN PUBLIC KEY" "$dir/server.pem" || fail "MySQL gave no RSA public key: $(head -c 200 "$dir/server.pem")"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/other-key.pem" 2>/dev/null
	openssl pkey -in "$dir/other-key.pem" -pubout -out "$dir/other.pem"
	chmod 644 "$dir/server.pem" "$dir/other.pem"
	# without the key (and without TLS) ecsync refuses the plugin, and says how
	rsa_server no_key disabled
	out=$(run_rsa t_nokey no_key || true)
	assert_contains "server_public_key" "$out" "the error names the option"
	# the server's own key: the rows come
	rsa_server pinned disabled "$dir/server.pem"
	out=$(run_rsa t_pinned pinned) || fail "pinned key: $out"
	assert_eq "1|pinned" "$(psql_q -c "SELECT id || '|' || v FROM t_pinned")" "rows under the pinned key"
	# another key: the server cannot read the password
	rsa_server other_key disabled "$dir/other.pem"
	out=$(run_rsa t_other other_key || true)
	assert_contains "Access denied" "$out" "a key that is not the server's"
	assert_eq t "$(psql_q -c "SELECT to_regclass('t_other') IS NULL")" "nothing created under the wrong key"
	# a key file that cannot be read: refused before connecting (the
	# client would otherwise ask the server for its key)
	rsa_server missing disabled "$dir/nonexistent.pem"
	out=$(run_rsa t_missing missing || true)
	assert_contains "cannot read server_public_key" "$out" "a missing key file"
	# TLS without verification would carry the password in clear
	rsa_server tls_unverified required "$dir/server.pem"
	out=$(run_rsa t_required tls_unverified || true)
	assert_contains "protects the password only without TLS" "$out" "ssl_mode required with a pinned key"
	# a non-superuser may not name a file on the database server
	psql_q -c "DROP ROLE IF EXISTS m_rsa_user" -c "CREATE ROLE m_rsa_user" -c "GRANT USAGE ON FOREIGN DATA WRAPPER ecsync_mysql TO m_rsa_user" >/dev/null
	out=$(psql_q -c "SET ROLE m_rsa_user" -c "CREATE SERVER m_rsa_mine FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (server_public_key '$dir/server.pem')" 2>&1 || true)
	assert_contains "superuser" "$out" "server_public_key is a superuser's option"
	psql_q -c "REVOKE USAGE ON FOREIGN DATA WRAPPER ecsync_mysql FROM m_rsa_user" -c "DROP ROLE m_rsa_user" >/dev/null
	rm -rf "$dir"
	psql_q -d ecsync -c "DROP DATABASE m_rsa WITH (FORCE)" >/dev/null
	my_q -e "DROP USER 'm_rsa'@'127.0.0.1'; DROP DATABASE m_rsa"
}

# A fail-over, as a shop running MySQL with GTIDs does it: the stream's
# server is replaced by its replica (another server_uuid, its own binary
# log files and positions).  The worker resumes by the GTID set it applied,
# as a MySQL replica with SOURCE_AUTO_POSITION does: the transactions it
# had not read yet come from the replica, none twice, and a table
# registered meanwhile is copied from the new server.  Pointed back at the
# old server, which lacks the replica's own transactions, it refuses (the
# targets would hold rows that server does not have) and goes on once that
# server has replicated them.
rep_q() { mariadb --no-defaults --socket="$ECSYNC_MYSQL_REPLICA_SOCKET" -uroot -N -B "$@"; }
root_q() { mariadb --no-defaults --socket="$ECSYNC_MYSQL_SOCKET" -uroot -N -B "$@"; }
cdc_set() { psql_q -c "SELECT gtid_executed FROM ecsync.cdc_status WHERE server_name = '$1'"; }
# subset A B: MySQL says every GTID of set A is in set B
subset() { [ "$(my_q -e "SELECT GTID_SUBSET('$1', '$2')")" = 1 ]; }
replica_has() { [ "$(rep_q -e "SELECT GTID_SUBSET('$(my_q -e "SELECT @@GLOBAL.gtid_executed" | tr -d '\n')', @@GLOBAL.gtid_executed)")" = 1 ]; }
primary_has() { [ "$(root_q -e "SELECT GTID_SUBSET('$(rep_q -e "SELECT @@GLOBAL.gtid_executed" | tr -d '\n')', @@GLOBAL.gtid_executed)")" = 1 ]; }
fo_equal() { [ "$(rep_q m_fo -e "SELECT CONCAT(id, '|', v, '|', n) FROM $1 ORDER BY id" | md5sum)" = \
	"$(psql_q -c "SELECT concat(id, '|', v, '|', n) FROM m_fo.$1 ORDER BY id" | md5sum)" ]; }
fo_counts() { psql_q -c "SELECT inserts || ' ' || updates || ' ' || deletes FROM ecsync.cdc_table_status WHERE table_name = 'm_fo.$1'"; }
set_port() {
	stop_cdc m_fo
	psql_q -c "ALTER SERVER m_fo OPTIONS (SET port '$1')"
	psql_q -c "SELECT ecsync_start_cdc('m_fo')" >/dev/null
}

test_a_fail_over_to_a_replica_resumes_by_the_gtid_set() {
	local env uuid ruuid pid
	env=$("$ECSYNC_TOP/tests/harness/stack.sh" replica start "$ECSYNC_STACK" 2>/dev/null) || fail "the replica did not start"
	eval "$env"
	my_q -e "DROP DATABASE IF EXISTS m_fo; CREATE DATABASE m_fo"
	my_q m_fo -e "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), n INT); CREATE TABLE t2 (id INT PRIMARY KEY, v VARCHAR(20), n INT);
		INSERT INTO t SELECT seq, CONCAT('v', seq), seq FROM ($(seq_sql 100)) s; INSERT INTO t2 VALUES (1, 'two', 2)"
	cdc_server m_fo m_fo
	# whatever happens, the stack's server is nobody's replica afterwards
	trap 'fo_cleanup; for s in $cdc_servers; do cdc_done "$s" >/dev/null 2>&1 || true; done' EXIT
	psql_q -c "DROP SCHEMA IF EXISTS m_fo CASCADE"
	psql_q -c "SELECT ecsync_register_table('m_fo', 't', 't', mode => 'cdc', target_schema => 'm_fo')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('m_fo')" >/dev/null
	wait_for 60 streaming m_fo 1 || fail "t never streamed: $(last_error m_fo)"
	# streaming: 40 row changes, one transaction each
	for i in $(seq 1 20); do my_q m_fo -e "INSERT INTO t VALUES ($((100 + i)), 'new', $i)"; done
	for i in $(seq 1 10); do my_q m_fo -e "UPDATE t SET n = n + 1000 WHERE id = $i"; done
	for i in $(seq 11 20); do my_q m_fo -e "DELETE FROM t WHERE id = $i"; done
	# a tagged GTID (MySQL 8.3+), and a statement logged beside its rows
	root_q m_fo -e "SET gtid_next = 'AUTOMATIC:shop_etl'; SET binlog_rows_query_log_events = ON;
		UPDATE t SET v = 'tagged' WHERE id = 100; SET gtid_next = 'AUTOMATIC'"
	wait_for 60 caught_up m_fo || fail "not caught up: $(last_error m_fo)"
	uuid=$(my_q -e "SELECT @@server_uuid")
	assert_match "^$uuid:shop_etl:1\$" "$(psql_q -c "SELECT gtid FROM ecsync.cdc_status WHERE server_name = 'm_fo'")" "the last GTID, tagged"
	assert_eq "$uuid" "$(psql_q -c "SELECT server_uuid FROM ecsync.cdc_status WHERE server_name = 'm_fo'")" "the stream's server"
	# the set applied is the server's own, exactly
	subset "$(cdc_set m_fo)" "$(my_q -e "SELECT @@GLOBAL.gtid_executed")" || fail "the set applied holds what MySQL has not: $(cdc_set m_fo)"
	subset "$(my_q -e "SELECT @@GLOBAL.gtid_executed")" "$(cdc_set m_fo)" || fail "the set applied lacks what was applied: $(cdc_set m_fo)"
	assert_eq "20 11 10" "$(fo_counts t)" "changes applied on the first server"
	# the worker stops; the server goes on, and the replica gets it all
	stop_cdc m_fo
	for i in $(seq 1 15); do my_q m_fo -e "INSERT INTO t VALUES ($((200 + i)), 'unread', $i)"; done
	my_q m_fo -e "UPDATE t SET v = 'unread too' WHERE id <= 5; FLUSH BINARY LOGS"
	wait_for 60 replica_has || fail "the replica did not catch up"
	# the fail-over: the replica takes the writes, a table is registered
	rep_q -e "STOP REPLICA"
	ruuid=$(rep_q -e "SELECT @@server_uuid")
	for i in $(seq 1 10); do rep_q m_fo -e "INSERT INTO t VALUES ($((300 + i)), 'replica', $i)"; done
	rep_q m_fo -e "DELETE FROM t WHERE id = 300 + 1; INSERT INTO t2 VALUES (2, 'replica', 2)"
	psql_q -c "SELECT ecsync_register_table('m_fo', 't2', 't2', mode => 'cdc', target_schema => 'm_fo')" >/dev/null
	set_port "$ECSYNC_MYSQL_REPLICA_PORT"
	wait_for 90 fo_equal t || fail "t differs from the replica's: $(last_error m_fo)"
	wait_for 60 streaming m_fo 2 || fail "t2 never streamed from the replica: $(last_error m_fo)"
	wait_for 30 fo_equal t2 || fail "t2 differs from the replica's"
	# every change once: 15 + 10 inserts, 5 updates and 1 delete more
	assert_eq "45 16 11" "$(fo_counts t)" "changes applied, none twice"
	assert_eq "$ruuid" "$(psql_q -c "SELECT server_uuid FROM ecsync.cdc_status WHERE server_name = 'm_fo'")" "the stream's server"
	assert_match '^replica-bin\.[0-9]+:[0-9]+$' "$(applied_position m_fo)" "the position is the replica's"
	assert_contains "goes on from MySQL server $ruuid" "$(pg_log)" "the log says where it went on"
	assert_eq "" "$(last_error m_fo)" "no error"
	# a restart on the replica resumes by its position, nothing twice
	pid=$(worker_pid m_fo)
	psql_q -c "SELECT pg_terminate_backend($pid)" >/dev/null
	wait_for 30 worker_running m_fo || fail "no new worker"
	rep_q m_fo -e "INSERT INTO t VALUES (400, 'after restart', 0)"
	wait_for 60 fo_equal t || fail "t differs after the restart: $(last_error m_fo)"
	assert_eq "46 16 11" "$(fo_counts t)" "changes after the restart"
	# back to the first server, which lacks the replica's transactions
	set_port "$ECSYNC_MYSQL_PORT"
	wait_for 30 error_contains m_fo "lacks transactions that change capture applied" ||
		fail "the first server was not refused: $(last_error m_fo)"
	assert_contains "$ruuid" "$(last_error m_fo)" "the error names what it lacks"
	# ... until it has replicated them: then the stream goes on from it
	root_q -e "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '127.0.0.1', SOURCE_PORT = $ECSYNC_MYSQL_REPLICA_PORT,
		SOURCE_USER = 'ecsync', SOURCE_PASSWORD = '$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")', SOURCE_AUTO_POSITION = 1,
		SOURCE_SSL = 1, SOURCE_SSL_CA = '$(dirname "$ECSYNC_MYSQL_SOCKET")/ca.pem'; START REPLICA"
	wait_for 60 primary_has || fail "the first server did not replicate the replica's transactions"
	root_q -e "STOP REPLICA; RESET REPLICA ALL"
	my_q m_fo -e "UPDATE t SET n = -1 WHERE id = 400"
	wait_for 60 caught_up m_fo || fail "not caught up on the first server again: $(last_error m_fo)"
	assert_eq "-1" "$(psql_q -c "SELECT n FROM m_fo.t WHERE id = 400")" "a change on the first server again"
	assert_eq "46 17 11" "$(fo_counts t)" "changes applied on the first server again, none twice"
	assert_eq "" "$(last_error m_fo)" "no error left"
	cdc_done m_fo
	my_q -e "DROP DATABASE m_fo"
}

fo_cleanup() {
	root_q -e "STOP REPLICA; RESET REPLICA ALL" >/dev/null 2>&1 || true
	"$ECSYNC_TOP/tests/harness/stack.sh" replica stop "$ECSYNC_STACK" 2>/dev/null || true
}

# MySQL 8.0.23+'s invisible columns (SELECT * leaves them out) and the
# invisible primary key MySQL generates for a table that has none
# (sql_generate_invisible_primary_key, 8.0.30+: my_row_id): the batch and
# change capture both carry them, as a replica would, and change capture
# finds rows by the invisible key.
test_invisible_columns_and_generated_keys_arrive_by_batch_and_change_capture() {
	local mine='CONCAT_WS("|", id, v, secret, IFNULL(note, "-"))' theirs="concat_ws('|', id, v, secret, coalesce(note, '-'))"
	my_q -e "DROP DATABASE IF EXISTS m_inv; CREATE DATABASE m_inv"
	my_q m_inv -e "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), secret INT INVISIBLE DEFAULT 7, note TEXT);
		SET SESSION sql_generate_invisible_primary_key = ON;
		CREATE TABLE nokey (v VARCHAR(20), n INT);
		SET SESSION sql_generate_invisible_primary_key = OFF;
		INSERT INTO t (id, v, secret, note) VALUES (1, 'one', 10, 'a'), (2, 'two', 20, NULL);
		INSERT INTO nokey VALUES ('x', 1), ('y', 2)"
	assert_eq "my_row_id" "$(my_q m_inv -e "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'm_inv' AND TABLE_NAME = 'nokey' AND EXTRA LIKE '%INVISIBLE%'")" \
		"MySQL generated an invisible key"
	cdc_server m_inv m_inv
	psql_q -c "DROP SCHEMA IF EXISTS m_inv CASCADE" -c "DROP SCHEMA IF EXISTS m_inv_b CASCADE"
	psql_q -c "SELECT ecsync_register_table('m_inv', 't', 't', mode => 'cdc', target_schema => 'm_inv')" \
		-c "SELECT ecsync_register_table('m_inv', 'nokey', 'nokey', mode => 'cdc', target_schema => 'm_inv')" \
		-c "SELECT ecsync_register_table('m_inv', 't', 't', target_schema => 'm_inv_b')" \
		-c "SELECT ecsync_register_table('m_inv', 'nokey', 'nokey', target_schema => 'm_inv_b')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('m_inv')" >/dev/null
	wait_for 60 streaming m_inv 2 || fail "never streamed: $(last_error m_inv)"
	my_q m_inv -e "INSERT INTO t (id, v, secret) VALUES (3, 'three', 30); UPDATE t SET secret = secret + 1 WHERE id = 1;
		DELETE FROM t WHERE id = 2; INSERT INTO nokey VALUES ('z', 3); UPDATE nokey SET n = n * 10 WHERE v = 'x';
		DELETE FROM nokey WHERE v = 'y'"
	wait_for 60 caught_up m_inv || fail "not caught up: $(last_error m_inv)"
	psql_q -c "SELECT * FROM ecsync_run_batch('m_inv_b.t')" -c "SELECT * FROM ecsync_run_batch('m_inv_b.nokey')" >/dev/null
	for schema in m_inv m_inv_b; do
		assert_eq "$(my_q m_inv -e "SELECT $mine FROM t ORDER BY id")" "$(psql_q -c "SELECT $theirs FROM $schema.t ORDER BY id")" \
			"$schema.t with its invisible column"
		assert_eq "$(my_q m_inv -e "SELECT CONCAT_WS('|', my_row_id, v, n) FROM nokey ORDER BY my_row_id")" \
			"$(psql_q -c "SELECT concat_ws('|', my_row_id, v, n) FROM $schema.nokey ORDER BY my_row_id")" "$schema.nokey with its generated key"
	done
	assert_eq "my_row_id" "$(psql_q -c "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = 'm_inv.nokey'::regclass AND i.indisprimary")" "the target's key is MySQL's invisible one"
	assert_eq "" "$(last_error m_inv)" "no error"
	psql_q -c "SELECT ecsync_unregister_table('t', 'm_inv_b')" -c "SELECT ecsync_unregister_table('nokey', 'm_inv_b')" >/dev/null
	cdc_done m_inv
	my_q -e "DROP DATABASE m_inv"
}
