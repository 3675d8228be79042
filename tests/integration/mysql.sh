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
