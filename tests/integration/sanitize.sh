# The C that runs outside PostgreSQL, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (make sanitize) and run on real input: the
# C unit tests, ecsync-ingest's command line, and the change-capture
# worker's binary log path (common/binlog_source.c, binlog_pipe.c,
# binlog_rows.c) on a real MariaDB binary log.  A report of either
# sanitizer ends the program with an error, and the test fails; ASan's
# leak check runs at exit.  The extension's own C runs on the cassert
# PostgreSQL (cassert/...); the fuzzers are the fuzz group; the archive
# (archive.sh) and the event pipe (pipe.sh) have sanitized tests of their own.

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# the programs make sanitize builds
san_programs="ingester/ecsync-ingest-san tests/unit/test_config-san tests/unit/test_type_policy-san
	tests/unit/test_event_decode-san tests/unit/test_csv_write-san tests/unit/test_event_pipe-san
	tests/gen/binlogcat-san"

test_make_sanitize_builds_every_program_with_both_sanitizers() {
	local p libs
	make -s -C "$ECSYNC_TOP" sanitize >/dev/null
	for p in $san_programs; do
		[ -x "$ECSYNC_TOP/$p" ] || fail "make sanitize did not build $p"
		libs=$(ldd "$ECSYNC_TOP/$p")
		[[ $libs == *libasan* ]] || fail "$p is not built with AddressSanitizer"
		[[ $libs == *libubsan* ]] || fail "$p is not built with UndefinedBehaviorSanitizer"
	done
}

test_unit_tests_under_asan_and_ubsan() {
	make -s -C "$ECSYNC_TOP/tests/unit" check
}

test_ingester_cli_under_asan_and_ubsan() {
	local dir san=$ECSYNC_TOP/ingester/ecsync-ingest-san
	make -s -C "$ECSYNC_TOP/ingester" sanitize
	dir=$(mktemp -d)
	printf 'kafka.bootstrap.servers = %s\nmysql.password = x\n' "$ECSYNC_KAFKA_BROKERS" >"$dir/c"
	chmod 600 "$dir/c"
	"$san" -c "$dir/c" -X topic=t --dump-config >/dev/null
	"$san" --help >/dev/null
	! "$san" -X kafka.x=1 2>/dev/null || fail "bad property accepted"
	rm -rf "$dir"
}

# The binary log of every column type, updates, deletes, a multi-statement
# transaction and rows larger than the reader thread's 4 MB bound, read by
# binlogcat-san straight and through the worker's reader thread: both must
# print what the plain build prints, with no sanitizer report.
test_binlog_reader_under_asan_and_ubsan_reads_as_the_plain_build() {
	local start plain=$ECSYNC_TOP/tests/gen/binlogcat san=$ECSYNC_TOP/tests/gen/binlogcat-san out=$ECSYNC_RUN_DIR/san-binlog
	make -s -C "$ECSYNC_TOP/tests/gen" binlogcat binlogcat-san >/dev/null
	mkdir -p "$out"
	my_q -e "DROP DATABASE IF EXISTS san_blog; CREATE DATABASE san_blog"
	my_q san_blog -e "CREATE TABLE t (id INT PRIMARY KEY, a TINYINT, b SMALLINT UNSIGNED, c MEDIUMINT, d INT,
	  e BIGINT UNSIGNED, f FLOAT, g DOUBLE, h DECIMAL(30,10), i DATE, j DATETIME(6), k TIMESTAMP(3) NULL, l TIME(4),
	  m YEAR, n BIT(61), o CHAR(5), p VARCHAR(2000), q LONGTEXT, r ENUM('x','y'), s SET('u','v','w'),
	  t2 VARBINARY(40), u GEOMETRY NULL, v JSON NULL)"
	start=$(my_q -e "SHOW MASTER STATUS" | awk '{print $1 ":" $2}')
	python3 - <<-'PY' | my_q san_blog
	import random
	r = random.Random(11)
	print("SET time_zone = '+00:00';")
	for i in range(1, 401):
	    print("INSERT INTO t VALUES (%d, %d, %d, %d, %d, %d, %r, %r, %d.%010d, '%04d-%02d-%02d', '2001-02-03 04:05:06.%06d', FROM_UNIXTIME(%d.%03d), '%s%d:%02d:%02d.%04d', %d, %d, 'a%d', '%s', REPEAT('ü😀', %d), '%s', '%s', 0x%s, %s, %s);" % (
	        i, r.randint(-128, 127), r.randint(0, 65535), r.randint(-2**23, 2**23 - 1), r.randint(-2**31, 2**31 - 1),
	        r.randint(0, 2**64 - 1), r.uniform(-1e30, 1e30), r.uniform(-1e300, 1e300), r.randint(-10**19, 10**19), r.randint(0, 10**10 - 1),
	        r.randint(1000, 9999), r.randint(1, 12), r.randint(1, 28), r.randint(0, 999999), r.randint(1, 2**31 - 1), r.randint(0, 999),
	        r.choice(["", "-"]), r.randint(0, 838), r.randint(0, 59), r.randint(0, 59), r.randint(0, 9999),
	        r.randint(1901, 2155), r.getrandbits(61), r.randint(0, 999), "z" * r.randint(0, 2000), r.randint(0, 3000),
	        r.choice(["x", "y"]), ",".join(sorted(r.sample(["u", "v", "w"], r.randint(0, 3)))), "%02X" * 20 % tuple(r.getrandbits(8) for _ in range(20)),
	        "NULL" if i % 5 == 0 else "ST_GeomFromText('LINESTRING(%d %d, %d %d)')" % tuple(r.randint(-99, 99) for _ in range(4)),
	        "NULL" if i % 4 == 0 else "'{\"k\": %d, \"a\": [1, \"two\", null]}'" % i))
	    if i % 3 == 0:
	        print("UPDATE t SET a = a DIV 2, f = -f, q = CONCAT(q, 'x') WHERE id = %d;" % (i - 1))
	    if i % 7 == 0:
	        print("DELETE FROM t WHERE id = %d;" % (i - 2))
	print("BEGIN; UPDATE t SET d = d DIV 3; DELETE FROM t WHERE id % 11 = 0; COMMIT;")
	# rows of 6 MB each: an event larger than the reader thread's bound passes alone
	for i in range(1001, 1004):
	    print("INSERT INTO t (id, q) VALUES (%d, REPEAT('big ', 1572864));" % i)
	print("UPDATE t SET q = REPEAT('BIG ', 1572864) WHERE id = 1002;")
	print("DELETE FROM t WHERE id = 1003;")
	PY
	"$plain" "${start%:*}" "${start#*:}" >"$out/plain"
	"$san" "${start%:*}" "${start#*:}" >"$out/direct" 2>"$out/direct.err" ||
		{ tail -n 40 "$out/direct.err"; fail "binlogcat-san failed (exit $?)"; }
	"$san" --pipe "${start%:*}" "${start#*:}" >"$out/pipe" 2>"$out/pipe.err" ||
		{ tail -n 40 "$out/pipe.err"; fail "binlogcat-san --pipe failed (exit $?)"; }
	! grep -q "runtime error\|Sanitizer" "$out/direct.err" "$out/pipe.err" || fail "a sanitizer report: $(head -n 5 "$out/direct.err" "$out/pipe.err")"
	# every insert, update (before and after) and delete of the table, big rows too
	assert_eq 403 "$(awk -F'\t' '$2 == "san_blog.t" && $1 == "I"' "$out/plain" | wc -l)" "inserted rows in the binary log"
	assert_eq "$(awk -F'\t' '$1 == "U-"' "$out/plain" | wc -l)" "$(awk -F'\t' '$1 == "U+"' "$out/plain" | wc -l)" "before and after images"
	[ "$(awk -F'\t' '$1 == "U+"' "$out/plain" | wc -l)" -gt 400 ] || fail "too few updates in the binary log"
	[ "$(awk -F'\t' '$1 == "D"' "$out/plain" | wc -l)" -gt 80 ] || fail "too few deletes in the binary log"
	assert_eq 4 "$(awk -F'\t' '$2 == "san_blog.t" && ($1 == "I" || $1 == "U+") && length($20) > 12000000' "$out/plain" | wc -l)" "6 MB row images"
	cmp -s "$out/plain" "$out/direct" || fail "binlogcat-san differs from binlogcat: $(diff "$out/plain" "$out/direct" | head -c 400)"
	cmp -s "$out/plain" "$out/pipe" || fail "binlogcat-san --pipe differs from binlogcat: $(diff "$out/plain" "$out/pipe" | head -c 400)"
	rm -rf "$out"
	my_q -e "DROP DATABASE san_blog"
}
