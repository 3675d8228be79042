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
