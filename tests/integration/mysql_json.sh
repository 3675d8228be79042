# MySQL's JSON columns in the binary log (binary JSON, and the diffs of
# binlog_row_value_options=PARTIAL_JSON), decoded by common/mysql_json.c:
# binlogcat's values must be the very bytes SELECT gives, and change
# capture must apply them to a json column.  Only a MySQL server writes
# binary JSON: on a MariaDB stack (whose JSON is a LONGTEXT, tested by the
# cdc group) these tests pass at once, saying so; the mysql9 pass runs them
# against the real MySQL 9.7.

# shellcheck source=tests/integration/cdc.sh
. "$ECSYNC_TOP/tests/integration/cdc.sh"

# MySQL 8.4 and later have no SHOW MASTER STATUS
master_position() { my_q -e "SHOW BINARY LOG STATUS" | awk '{print $1 ":" $2}'; }

# needs_mysql: true on a MySQL stack; elsewhere says why the test is skipped
needs_mysql() {
	[ "${ECSYNC_MYSQL_FLAVOR:-}" = mysql ] && return 0
	echo "skipped: binary JSON needs a MySQL server (the mysql9 stack), not ${ECSYNC_MYSQL_FLAVOR:-MariaDB}"
	return 1
}

# json_binlogcat FILE POS: binlogcat from FILE:POS, over verified TLS (MySQL
# 9's caching_sha2_password is the only plugin ecsync allows it, and only so)
json_binlogcat() {
	BINLOGCAT_SSL_CA=${ECSYNC_MYSQL_SSL_CA:-} "$binlogcat" "$1" "$2"
}

# json_corpus: SQL filling table docs (id, a JSON, n INT, b JSON) of the
# current database with every kind of JSON value: objects (small and
# large, keys of every length, escapes, unicode), arrays, nesting 100 deep,
# strings of every length class, control characters and emoji, integers at
# every width's limits, doubles (1.0, -0.0, 1e300, subnormals, random
# bits), decimals, dates, times, datetimes, timestamps, opaque binaries,
# literals, empty containers, documents over 64 KB, and SQL NULL
json_corpus() {
	python3 - <<-'EOF'
	import json, random, struct
	r = random.Random(97)
	def q(s):
	    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"
	def j(v, ascii=False):
	    return q(json.dumps(v, ensure_ascii=ascii))
	docs = []
	def add(a, b="NULL"):
	    docs.append((a, b))
	# containers and literals
	for t in ['{}', '[]', '{"a": {}, "b": []}', '[[], {}, [[]], [{}]]', 'null', 'true', 'false',
	          '[null, true, false]', '{"t": true, "f": false, "n": null}']:
	    add(q(t))
	# scalars at the top
	for t in ['"abc"', '""', '0', '-1', '3.5', '"\\u0000"', '1e15', '-0', '-0.0', '0.0']:
	    add(q(t))
	# integers at the limits of int16, uint16, int32, uint32, int64, uint64
	ints = [0, 1, -1, 32767, 32768, -32768, -32769, 65535, 65536, 2147483647, 2147483648,
	        -2147483648, -2147483649, 4294967295, 4294967296, 9223372036854775807,
	        -9223372036854775808, 9223372036854775808, 18446744073709551615]
	add(j(ints))
	add(j({"k%02d" % i: v for i, v in enumerate(ints)}))
	for v in ints:
	    add(q(str(v)))
	# doubles, as the JSON parser reads them
	doubles = ["1.0", "-0.0", "0.1", "1e300", "-1e300", "1e-300", "5e-324", "1.7976931348623157e308",
	           "2.2250738585072014e-308", "2.225073858507201e-308", "1e15", "1e16", "1e14", "123456789012345.6",
	           "1234567890123456.7", "0.000001", "1e-7", "1e-15", "1e-16", "100.0", "2.5", "-2.5e-5",
	           "3.141592653589793", "1e21", "1e22", "1e100", "1e-100", "9007199254740993.0", "0.3",
	           "123e-20", "4.35", "1.5e-10", "12345678.9", "0.1e1", "18446744073709551616", "-9223372036854775809"]
	add(q("[" + ", ".join(doubles) + "]"))
	for d in doubles:
	    add(q(d))
	rnd = []
	while len(rnd) < 400:
	    x = struct.unpack("<d", struct.pack("<Q", r.getrandbits(64)))[0]
	    if x == x and abs(x) != float("inf"):
	        rnd.append(repr(x))
	for i in range(0, 400, 40):
	    add(q("[" + ", ".join(rnd[i:i + 40]) + "]"))
	add(q("[" + ", ".join(repr(r.uniform(-1e6, 1e6)) for _ in range(100)) + "]"))
	add(q("[" + ", ".join(repr(round(r.uniform(-100, 100), r.randint(0, 6))) for _ in range(100)) + "]"))
	add(q("[" + ", ".join(repr(float(2 ** e)) for e in range(-1074, 1024, 7)) + "]"))
	# strings: escapes, every control character, DEL, unicode, emoji, lengths of 1 to 3 length bytes
	add(j("quote \" backslash \\ slash / tab \t newline \n cr \r ff \f bs \b"))
	add(j("".join(chr(c) for c in range(1, 32)) + "\x7f"))
	add(j({"日本語": "こんにちは", "emoji": "😀🍣👍🏽", "é": "ü", "\u00a0": "\u2028\u2029", "z\u0001": "\ud7ff\ue000\uffff"}))
	add(j({"日本語": "こんにちは", "emoji": "😀🍣"}, ascii=True))
	for n in (0, 1, 127, 128, 16383, 16384, 70000):
	    add(j("x" * n))
	add(j(["é" * 200, "😀" * 50, "".join(chr(r.randint(32, 0x2FFF)) for _ in range(300))]))
	# keys: every length order, escapes, the empty key, duplicates (the last wins)
	add(q('{"bb": 1, "a": 2, "ccc": 3, "": 4, "ab": 5, "b": 6, "aa": 7, "a\\"b": 8, "a\\\\b": 9, "\\t": 10}'))
	add(q('{"k": 1, "k": 2, "j": {"x": 1, "x": [3]}}'))
	add(j({("k" * r.randint(1, 30)) + str(i): i for i in range(200)}))
	# nesting: 100 levels (MySQL's limit), arrays and objects
	add(q("[" * 100 + "1" + "]" * 100))
	add(q('{"a": ' * 99 + "[]" + "}" * 99))
	deep = "null"
	for i in range(49):
	    deep = '{"l%d": [%s, %d]}' % (i, deep, i)
	add(q(deep))
	# large documents (over 64 KB: the large storage format)
	add(j(["abcdefghij%d" % i for i in range(8000)]))
	add(j({"key%05d" % i: {"v": i, "s": "y" * (i % 20), "f": i / 7} for i in range(3000)}))
	add(j({"small": 1, "big": "z" * 70000, "tail": [1, 2.5, "x"]}))
	add(j([list(range(i, i + 20)) for i in range(0, 8000, 20)]))
	# random documents
	def rv(depth):
	    k = r.randint(0, 9 if depth < 4 else 5)
	    if k == 0: return None
	    if k == 1: return r.choice([True, False])
	    if k == 2: return r.randint(-2 ** 63, 2 ** 64 - 1)
	    if k == 3: return r.randint(-40000, 40000)
	    if k == 4: return r.uniform(-1e10, 1e10)
	    if k == 5: return "".join(r.choice("ab\"\\\n\t/é😀\x01 ") for _ in range(r.randint(0, 12)))
	    if k <= 7: return [rv(depth + 1) for _ in range(r.randint(0, 6))]
	    return {"".join(r.choice("abc\"é ") for _ in range(r.randint(0, 5))): rv(depth + 1) for _ in range(r.randint(0, 6))}
	for i in range(60):
	    add(j(rv(0), ascii=r.random() < 0.3), j(rv(1)) if i % 3 == 0 else "NULL")
	# MySQL values in JSON: decimals, temporal values, opaque binaries, floats
	add("CAST(CAST('123.4500' AS DECIMAL(10,4)) AS JSON)")
	add("CAST(CAST('-0.001' AS DECIMAL(6,3)) AS JSON)")
	add("CAST(CAST('-0.00' AS DECIMAL(5,2)) AS JSON)")
	add("JSON_ARRAY(CAST('1e-30' AS DECIMAL(65,30)), CAST('99999999999999999999999999999999999.999999999999999999999999999999' AS DECIMAL(65,30)),"
	    " CAST(0 AS DECIMAL), CAST(-7 AS DECIMAL(3,0)), CAST(-123456789.987654321 AS DECIMAL(20,9)), 1.50, -0.5, 12345678901234567890.5)")
	add("JSON_OBJECT('price', CAST(19.99 AS DECIMAL(8,2)), 'qty', 3, 'total', CAST(59.97 AS DECIMAL(10,2)))")
	add("JSON_OBJECT('d', CURDATE(), 'd0', DATE'1000-01-01', 'd9', DATE'9999-12-31', 't', CAST('12:34:56.789' AS TIME(6)),"
	    " 'tn', CAST('-838:59:59' AS TIME), 'th', CAST('100:00:00.5' AS TIME(1)), 'tz', CAST('-00:00:00.000001' AS TIME(6)),"
	    " 'dt', CAST('9999-12-31 23:59:59.999999' AS DATETIME(6)), 'dt0', CAST('1000-01-01 00:00:00' AS DATETIME), 'now', NOW(6))")
	add("JSON_ARRAY(CURDATE(), CURTIME(), NOW(), UTC_TIMESTAMP(3), CAST('2020-02-29 12:00:00.5' AS DATETIME(1)))")
	add("CAST(CURDATE() AS JSON)")
	add("CAST(TIME'01:02:03' AS JSON)")
	add("CAST(CAST('2038-01-19 03:14:07.999' AS DATETIME(3)) AS JSON)")
	add("JSON_ARRAY(x'00ff', CAST('' AS BINARY), CAST(REPEAT('ab', 60) AS BINARY), x'DEADBEEF', b'101')")
	add("CAST(x'0102' AS JSON)")
	add("CAST(CAST(REPEAT('xyz', 100) AS BINARY) AS JSON)")
	add("JSON_ARRAY(CAST(1.1 AS FLOAT), CAST(-3.4e38 AS FLOAT), CAST(1e-45 AS FLOAT), CAST(0.1 AS DOUBLE), 1e0)")
	add("JSON_OBJECT('g', ST_AsGeoJSON(ST_GeomFromText('POLYGON((0 0, 1.5 0, 1.5 2.25, 0 0))')))")
	# SQL NULL and JSON null side by side
	add("NULL", q("null"))
	add("NULL")
	print("SET SESSION cte_max_recursion_depth = 100000;")
	print("CREATE TABLE docs (id INT PRIMARY KEY, a JSON, n INT, b JSON);")
	# the TIMESTAMPs' edges are UTC's: in the stack's zone (+09:00) the first is out of range
	print("SET time_zone = '+00:00';")
	print("CREATE TABLE tsrc (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, y YEAR, ts0 TIMESTAMP NULL);")
	print("INSERT INTO tsrc VALUES (1, '2001-02-03 04:05:06.789012', 2024, '1970-01-01 00:00:01'), (2, '2038-01-19 03:14:07', 1901, NULL);")
	for i, (a, b) in enumerate(docs, 1):
	    print("INSERT INTO docs VALUES (%d, %s, %d, %s);" % (i, a, i, b))
	n = len(docs)
	print("INSERT INTO docs SELECT %d + id, JSON_OBJECT('ts', ts, 'y', y, 'ts0', ts0), id, JSON_ARRAY(ts, y) FROM tsrc;" % n)
	EOF
}

# json_compare BINLOG SELECT: the last image of each row in BINLOG
# (binlogcat's I and U+ lines of docs) against SELECT's id, HEX(a), HEX(b):
# the same bytes; prints the number of values compared
json_compare() {
	python3 - "$1" "$2" <<-'EOF'
	import sys
	last = {}
	for line in open(sys.argv[1]):
	    f = line.rstrip("\n").split("\t")
	    if f[1].endswith(".docs") and f[0] in ("I", "U+"):
	        last[int(bytes.fromhex(f[2]).decode())] = (f[3], f[5])
	bad = values = 0
	for line in open(sys.argv[2]):
	    rid, a, b = line.rstrip("\n").split("\t")
	    got = last.get(int(rid))
	    if got is None:
	        print("row %s: not in the binary log" % rid); bad += 1; continue
	    for col, want, have in (("a", a, got[0]), ("b", b, got[1])):
	        values += 1
	        if want != have:
	            bad += 1
	            if bad <= 5:
	                w = bytes.fromhex(want).decode(errors="replace") if want != "NULL" else "NULL"
	                h = bytes.fromhex(have).decode(errors="replace") if have != "NULL" else "NULL"
	                print("row %s column %s:\n  SELECT:    %s\n  binlogcat: %s" % (rid, col, w[:300], h[:300]))
	if bad:
	    print("%d of %d values differ" % (bad, values)); sys.exit(1)
	print(values)
	EOF
}

# json_select: id, HEX(a), HEX(b) of docs (the client prints NULL as NULL)
json_select() { my_q m_json -e "SELECT id, HEX(a), HEX(b) FROM docs ORDER BY id"; }

test_decoder_reads_binary_json_as_select_does() {
	needs_mysql || return 0
	local start n out=$ECSYNC_RUN_DIR/m_json
	my_q -e "DROP DATABASE IF EXISTS m_json; CREATE DATABASE m_json CHARACTER SET utf8mb4"
	start=$(master_position)
	json_corpus | my_q m_json
	json_binlogcat "${start%:*}" "${start#*:}" >"$out.binlog"
	json_select >"$out.select"
	n=$(json_compare "$out.binlog" "$out.select") || fail "binlogcat and SELECT differ: $n"
	[ "$n" -ge 380 ] || fail "only $n values compared"
	# HEX(doc) is the text SELECT gives: the client's raw output says the same
	assert_eq "$(my_q --raw m_json -e "SELECT a FROM docs WHERE a IS NOT NULL ORDER BY id" | md5sum)" \
		"$(my_q m_json -e "SELECT HEX(a) FROM docs WHERE a IS NOT NULL ORDER BY id" | python3 -c '
import sys
for l in sys.stdin: sys.stdout.buffer.write(bytes.fromhex(l.strip()) + b"\n")' | md5sum)" "raw SELECT and HEX"
	my_q -e "DROP DATABASE m_json"
}

# json_updates ROUND: the PARTIAL_JSON updates of ROUND (1 to 3) on the corpus
json_updates() {
	case $1 in
		1) cat <<-'EOF'
		UPDATE docs SET a = JSON_SET(a, '$.key00001.v', 'one', '$.key02999.s', 1.0, '$.newkey', CAST(1.25 AS DECIMAL(6,3)),
		  '$."a key with spaces"', CURDATE(), '$."日本"', '😀', '$.aaa', JSON_ARRAY(1, 'x', NULL)) WHERE JSON_TYPE(a) = 'OBJECT' AND JSON_LENGTH(a) > 1000;
		UPDATE docs SET a = JSON_REPLACE(a, '$[0]', 'first', '$[last]', -0.0, '$[4000]', JSON_OBJECT('k', x'00ff')) WHERE JSON_TYPE(a) = 'ARRAY' AND JSON_LENGTH(a) > 1000;
		UPDATE docs SET a = JSON_REMOVE(a, '$.tail[1]', '$.small') WHERE JSON_CONTAINS_PATH(a, 'one', '$.tail');
		UPDATE docs SET a = JSON_SET(a, '$[5]', 1e300, '$[399][3]', 'deep', '$[399][25]', 'appended') WHERE JSON_TYPE(a) = 'ARRAY' AND JSON_LENGTH(a) = 400;
		UPDATE docs SET a = JSON_SET(a, '$.k00', 18446744073709551615, '$.k15', -1) WHERE JSON_CONTAINS_PATH(a, 'one', '$.k15');
		UPDATE docs SET a = JSON_SET(a, '$.emoji', REPEAT('🍣', 3)), b = JSON_SET(b, '$.added', TRUE) WHERE JSON_CONTAINS_PATH(a, 'one', '$.emoji');
		UPDATE docs SET a = JSON_SET(a, '$[0]', 'v'), b = JSON_REMOVE(b, '$[0]') WHERE id BETWEEN 100 AND 200 AND JSON_TYPE(a) = 'ARRAY' AND JSON_TYPE(b) = 'ARRAY' AND JSON_LENGTH(b) > 0;
		UPDATE docs SET n = n + 1 WHERE id < 20;
		UPDATE docs SET a = JSON_SET(a, '$.k', 'small doc') WHERE id < 12 AND JSON_TYPE(a) = 'OBJECT';
		EOF
			;;
		2) cat <<-'EOF'
		UPDATE docs SET a = JSON_SET(JSON_REMOVE(a, '$.key00002', '$.key00100.s', '$.newkey'),
		  '$.key00005', JSON_OBJECT('nested', JSON_ARRAY(1.5, 'x', JSON_OBJECT()))) WHERE JSON_TYPE(a) = 'OBJECT' AND JSON_LENGTH(a) > 1000;
		UPDATE docs SET a = JSON_SET(a, '$[1]', CAST('12:00:00.5' AS TIME(1)), '$[2]', NOW(6), '$[8000]', 'end') WHERE JSON_TYPE(a) = 'ARRAY' AND JSON_LENGTH(a) > 1000;
		UPDATE docs SET a = JSON_REPLACE(a, '$.big', 'short now') WHERE JSON_CONTAINS_PATH(a, 'one', '$.big');
		UPDATE docs SET a = JSON_REMOVE(a, '$[0]', '$[0]', '$[last]') WHERE JSON_TYPE(a) = 'ARRAY' AND JSON_LENGTH(a) = 400;
		UPDATE docs SET a = JSON_SET(a, '$.r2', id, '$."é\\"q"', 'key to quote') WHERE JSON_TYPE(a) = 'OBJECT' AND JSON_STORAGE_SIZE(a) < 10000 AND id > 100;
		UPDATE docs SET a = JSON_REMOVE(a, '$[0]'), b = JSON_SET(b, '$[0]', 'b0') WHERE JSON_TYPE(a) = 'ARRAY' AND JSON_LENGTH(a) > 0 AND JSON_STORAGE_SIZE(a) < 10000 AND id > 100;
		EOF
			;;
		3) cat <<-'EOF'
		UPDATE docs SET a = JSON_SET(a, '$.key00001.v', NULL, '$.key00001.w', 'w') WHERE JSON_TYPE(a) = 'OBJECT' AND JSON_LENGTH(a) > 1000;
		UPDATE docs SET a = JSON_REPLACE(a, '$[last]', JSON_ARRAY()), b = JSON_SET(b, '$.z', 'z') WHERE JSON_TYPE(a) = 'ARRAY' AND JSON_LENGTH(a) > 1000;
		UPDATE docs SET b = NULL WHERE id % 5 = 0 AND JSON_STORAGE_SIZE(a) < 10000;
		UPDATE docs SET a = JSON_SET(a, '$.x', 1) WHERE a IS NULL;
		UPDATE docs SET a = JSON_SET(a, '$[0]', JSON_OBJECT('n', n)) WHERE JSON_TYPE(a) = 'ARRAY' AND JSON_STORAGE_SIZE(a) < 10000 AND id % 5 = 1;
		EOF
			;;
	esac
}

test_partial_json_updates_decode_to_what_select_gives() {
	needs_mysql || return 0
	local start n round out=$ECSYNC_RUN_DIR/m_json_partial
	my_q -e "DROP DATABASE IF EXISTS m_json; CREATE DATABASE m_json CHARACTER SET utf8mb4"
	json_corpus | my_q m_json
	for round in 1 2 3; do
		my_q m_json -e "SELECT id, COALESCE(JSON_STORAGE_SIZE(a), 0) + COALESCE(JSON_STORAGE_SIZE(b), 0) FROM docs" >"$out.$round.sizes"
		start=$(master_position)
		{ echo "SET SESSION binlog_row_value_options = 'PARTIAL_JSON';"; json_updates $round; } | my_q m_json
		my_q -e "SHOW BINLOG EVENTS IN '${start%:*}' FROM ${start#*:}" >"$out.$round.events"
		[ "$(awk -F'\t' '$3 == "Update_rows_partial"' "$out.$round.events" | wc -l)" -ge 4 ] ||
			fail "round $round: MySQL wrote no partial update events"
		json_binlogcat "${start%:*}" "${start#*:}" | awk -F'\t' '$1 == "U+"' >"$out.$round.binlog"
		json_select >"$out.$round.select"
		# rows this round did not change are not in its binary log
		python3 - "$out.$round.binlog" "$out.$round.select" <<-'EOF' >"$out.$round.changed"
		import sys
		ids = {int(bytes.fromhex(l.split("\t")[2]).decode()) for l in open(sys.argv[1])}
		for l in open(sys.argv[2]):
		    if int(l.split("\t")[0]) in ids:
		        sys.stdout.write(l)
		EOF
		[ "$(wc -l <"$out.$round.changed")" -ge 10 ] || fail "round $round changed only $(wc -l <"$out.$round.changed") rows"
		n=$(json_compare "$out.$round.binlog" "$out.$round.changed") || fail "round $round: binlogcat and SELECT differ: $n"
		# and the events hold diffs, not whole after images: they are much
		# smaller than a before and an after image of each changed row
		python3 - "$out.$round.binlog" "$out.$round.sizes" "$out.$round.events" <<-'EOF' || fail "round $round: the after images are not diffs"
		import sys
		ids = {int(bytes.fromhex(l.split("\t")[2]).decode()) for l in open(sys.argv[1])}
		before = sum(int(l.split("\t")[1]) for l in open(sys.argv[2]) if int(l.split("\t")[0]) in ids)
		events = sum(int(f[4]) - int(f[1]) for f in (l.split("\t") for l in open(sys.argv[3])) if f[2] == "Update_rows_partial")
		print("round: %d rows, %d bytes of JSON before, %d bytes of partial update events" % (len(ids), before, events))
		sys.exit(0 if events < 1.3 * before else 1)
		EOF
	done
	my_q -e "DROP DATABASE m_json"
}

# Change capture applies MySQL's JSON columns like any other: the table
# streams (no "json, not json" type change, no copy anew), and inserts,
# full and partial updates arrive as the batch reads the same rows.
test_json_columns_stream_through_change_capture() {
	needs_mysql || return 0
	my_q -e "DROP DATABASE IF EXISTS m_jcdc; CREATE DATABASE m_jcdc CHARACTER SET utf8mb4"
	my_q m_jcdc -e "CREATE TABLE t (id INT PRIMARY KEY, doc JSON, n INT, meta JSON)"
	my_q m_jcdc -e "INSERT INTO t VALUES (1, '{\"a\": 1}', 1, NULL), (2, '[1, 2.5, \"x\"]', 2, '{}')"
	cdc_server m_jcdc m_jcdc
	psql_q -c "DROP SCHEMA IF EXISTS m_jcdc CASCADE" -c "DROP SCHEMA IF EXISTS m_jcdc_batch CASCADE"
	psql_q -c "SELECT ecsync_register_table('m_jcdc', 't', 't', mode => 'cdc', target_schema => 'm_jcdc')" >/dev/null
	psql_q -c "SELECT ecsync_start_cdc('m_jcdc')" >/dev/null
	wait_for 60 streaming m_jcdc 1 || fail "never streamed: $(last_error m_jcdc)"
	my_q m_jcdc -e "SET SESSION cte_max_recursion_depth = 100000;
		INSERT INTO t SELECT seq + 2, JSON_OBJECT('seq', seq, 'half', seq / 2, 'f', seq * 1.0e0, 'name', CONCAT('n', seq, ' 😀'), 'd', CURDATE(), 'list', JSON_ARRAY(seq, -seq, 'é')),
		  seq, IF(seq % 2, NULL, JSON_ARRAY(CAST(seq AS DECIMAL(10,2)), NOW(6)))
		  FROM (WITH RECURSIVE s(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < 500) SELECT seq FROM s) q;
		INSERT INTO t VALUES (1000, CONCAT('[', REPEAT('\"abcdefghij\", ', 8000), '1]'), 0, NULL);
		UPDATE t SET doc = JSON_SET(doc, '$.extra', 'full') WHERE id % 7 = 0;
		SET SESSION binlog_row_value_options = 'PARTIAL_JSON';
		UPDATE t SET doc = JSON_SET(doc, '$.seq', -1, '$.new', 1.0e0), meta = JSON_REMOVE(meta, '\$[0]') WHERE id % 3 = 0;
		UPDATE t SET doc = JSON_REPLACE(doc, '\$[5]', 'five', '\$[last]', JSON_OBJECT('k', 2.5)) WHERE id = 1000;
		UPDATE t SET doc = JSON_REMOVE(doc, '$.list[1]'), n = n + 1 WHERE id % 5 = 0;
		DELETE FROM t WHERE id % 11 = 0;"
	wait_for 60 caught_up m_jcdc || fail "not caught up: $(last_error m_jcdc)"
	assert_eq "streaming|" "$(psql_q -c "SELECT state, coalesce(error, '') FROM ecsync.cdc_table_status WHERE table_name = 'm_jcdc.t'")" "table state"
	assert_eq "" "$(last_error m_jcdc)" "no error"
	! pg_log | grep -F "m_jcdc.t" | grep -q "copied anew" || fail "the table was copied anew: $(pg_log | grep -F "copied anew" | tail -n 1)"
	# the batch reads the same MySQL table: the very same values
	psql_q -c "SELECT ecsync_register_table('m_jcdc', 't', 't', target_schema => 'm_jcdc_batch')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch('m_jcdc_batch.t')" >/dev/null
	assert_eq "$(my_q m_jcdc -e "SELECT count(*) FROM t")" "$(psql_q -c "SELECT count(*) FROM m_jcdc.t")" "rows"
	assert_eq "0|0" "$(psql_q -c "SELECT (SELECT count(*) FROM (SELECT id, doc::text, n, meta::text FROM m_jcdc.t EXCEPT ALL SELECT id, doc::text, n, meta::text FROM m_jcdc_batch.t) a),
		(SELECT count(*) FROM (SELECT id, doc::text, n, meta::text FROM m_jcdc_batch.t EXCEPT ALL SELECT id, doc::text, n, meta::text FROM m_jcdc.t) b)")" \
		"rows that differ between change capture and the batch"
	assert_eq '-1|1.0' "$(psql_q -c "SELECT doc->>'seq', doc->>'new' FROM m_jcdc.t WHERE id = 3")" "a partial update's values"
	psql_q -c "SELECT ecsync_unregister_table('t', 'm_jcdc_batch')" >/dev/null
	cdc_done m_jcdc
	my_q -e "DROP DATABASE m_jcdc"
}
