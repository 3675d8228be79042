# The documentation's SQL examples, run as written against the real stack.
#
# Every test here reads README.md, README.ja.md and docs/**/*.md (the
# English pages and their Japanese translations in docs/ja/) when it runs,
# and takes its examples from them; no example is copied into this file.
# An example that cannot run as written is a defect of its page: fix the
# page (both languages), not this test.  (The docs group checks the links,
# and that each page and its translation have the same code.)
#
# What is an example
#   * every fenced ```sql block, whole, as one psql script (ON_ERROR_STOP);
#   * every `psql ... -c '...'` line of a fenced ```sh (or bash, shell,
#     console) block: its single-quoted SQL, run with psql -c as written;
#   * every inline `code` span outside fences that starts with SELECT,
#     CREATE, ALTER, GRANT, INSERT, UPDATE, DELETE, DROP, CALL or SET
#     (upper case: a lower-case `set` is MySQL's type), has no ellipsis
#     ("..." or "…": a template such as `INSERT ... ON CONFLICT DO
#     NOTHING` or `ecsync_create_analytics(...)`), names something (has a
#     word other than upper-case keywords: `ALTER USER MAPPING` and `DROP
#     TABLE` are words in prose), and that PostgreSQL's parser accepts as a
#     statement (checked with a PL/pgSQL validator, which parses without
#     running anything).
#     White space in a span is one space, as Markdown shows it.  Function
#     signatures in the API tables (`f(a, b) → id`) start with no keyword
#     and are not examples.
#
# Placeholders (the front pages README.md and README.ja.md say so under
# their main calls, docs/batch.md and docs/ja/batch.md under their MySQL
# source): the host db.example.jp becomes 127.0.0.1, port
# '3306' the stack's MariaDB port, /etc/ecsync/ca.pem the stack's CA
# ($ECSYNC_MYSQL_SSL_CA), the brokers kafka1.example.jp:9092,kafka2.example.jp:9092
# the stack's ($ECSYNC_KAFKA_BROKERS), and every password '...' the stack's
# MariaDB password.  Nothing else is changed; an example that still holds
# example.jp or password '...' after that fails.  The password reaches psql
# on stdin, and is masked in what the tests print.
#
# Skipped examples: a block whose first line is
#   -- not run by tests/integration/readme.sh: REASON
# is not run against the services (today: the Kafka source with SASL, which
# the plaintext test broker cannot serve).  Its statements are still sent to
# PostgreSQL inside a transaction that is rolled back, just before the
# block they vary, so that their syntax and option names (ecsync's
# validators) are checked.  Each test prints what it ran and skipped.
#
# Which test runs an example: the first rule its SQL matches gives its group
#   upgrade     ADD COLUMN kafka_topic (the 0.3 stream upgrade)  test_extension_and_upgrade_examples
#   extension   an inline CREATE/ALTER EXTENSION ecsync alone     test_extension_and_upgrade_examples
#   security    shop_etl or metabase (the delegation, its GRANT)  test_security_examples
#   cdc         ecsync_start_cdc, mode => 'cdc', ecsync_cdc_*,    test_cdc_examples
#               ecsync.cdc_*
#   stream      ecsync_kafka, ecsync_register_stream,             test_stream_examples
#               ecsync.stream_*, ecsync_create_analytics,
#               ecsync_refresh_analytics, analytics.*
#   batch       ecsync_mysql, ecsync_run_batch, ecsync.status,    test_batch_examples
#               ecsync.batch_*
# test_every_example_has_a_test lists every example with its group and
# fails on one no rule takes, on more than the two SASL skips, on a
# language whose pages lack a group's block, and on a front page or batch
# page that does not name the placeholders in its prose.  In a
# group, each fenced block is a *main* example: it runs from a clean state
# (no ecsync, no shop schema, the sample shop freshly loaded into MariaDB
# database shop).  The inline and psql examples of the group are *follow-ups*:
# they run, in document order, after the last main block of their file
# (follow-ups that create the analytics layer first), each with a check of
# its own result.  A page with follow-ups but no main block of their group
# (the front page's main calls, docs/analytics.md, docs/operations.md ...)
# builds on the page of its language that has one (the group's home: the
# first page of that language with such a block, e.g. docs/streams.md or
# docs/ja/streams.md): its follow-ups run with the home's, after the home's
# last main block.  The cdc and stream blocks build on the source defined
# before them: their file's batch block runs first, or else that of their
# language's batch page (docs/batch.md, docs/ja/batch.md), as a reader
# would have run it.  The security block runs as its page says, as a
# superuser that turns into shop_etl with SET ROLE; the test creates what
# it presumes (the role shop_etl, the MySQL account etl, the extensions).
# Each inline CREATE EXTENSION runs where there is none; the inline ALTER
# EXTENSION ... UPDATE examples update a real 0.3 installation the test
# makes (CREATE EXTENSION ecsync VERSION '0.3' and a stream registered by
# it, its table as 0.3 made it), on which the upgrade block then runs.
#
# Everything runs in the database ecsync (where pg_cron and the workers
# live) as the stack's superuser.  Each test leaves the stack as it found
# it: it stops the workers, removes the cron jobs, the extension's objects,
# the schemas shop and analytics, the roles shop_etl and metabase (which
# these tests own), the MySQL account etl, the shop tables in MariaDB's
# shop and the topic page_views (unless they were there before), and
# creates the extensions ecsync and pg_cron again (empty) if they were there.
# A cron job an example schedules is checked, then paused at once, so that
# it cannot fire during the tests; its command is run by the test instead.

# shellcheck source=tests/shop_lib.sh
. "$ECSYNC_TOP/tests/shop_lib.sh"

# pv ARGS: pvproduce without topic auto-creation (its --delete-topic would
# otherwise see the topic re-created at once, with one partition, by its
# own metadata requests: the stack's broker auto-creates topics)
pv() { "$ECSYNC_TOP/tests/gen/pvproduce" -X allow.auto.create.topics=false "$@"; }
readme_scale=0.002	# 200 users, 20 products, 3,000 sales, 9,000 lines
readme_seed=1

# ---------------------------------------------------------------- extraction

# readme_extract DIR: the examples into DIR: index.tsv (id, file, line,
# kind, group, status, reason; in document order, README.md first) and
# ID.sql for each; inline spans the parser refuses are dropped (listed in
# DIR/not_statements.tsv)
readme_extract() {
	local dir=$1 id file line kind group status reason
	python3 - "$ECSYNC_TOP" "$dir" <<-'PY'
	import glob, os, re, sys
	top, out = sys.argv[1], sys.argv[2]
	files = ["README.md", "README.ja.md"]
	files += sorted(os.path.relpath(p, top) for p in glob.glob(os.path.join(top, "docs", "**", "*.md"), recursive=True))
	files = [f for f in files if os.path.exists(os.path.join(top, f))]
	SKIP = "-- not run by tests/integration/readme.sh:"
	KEYWORDS = re.compile(r"(SELECT|CREATE|ALTER|GRANT|INSERT|UPDATE|DELETE|DROP|CALL|SET)\b")
	RULES = [
	    ("upgrade", None, r"ADD COLUMN kafka_topic"),
	    ("extension", ("inline",), r"^(CREATE|ALTER) EXTENSION ecsync\b[^;]*$"),
	    ("security", None, r"\bshop_etl\b|\bmetabase\b"),
	    ("cdc", None, r"ecsync_start_cdc|mode => 'cdc'|ecsync_cdc_|ecsync\.cdc_"),
	    ("stream", None, r"ecsync_kafka|ecsync_register_stream|ecsync\.stream_|ecsync_create_analytics|ecsync_refresh_analytics|\banalytics\."),
	    ("batch", None, r"ecsync_mysql|ecsync_run_batch|ecsync\.status\b|ecsync\.batch_"),
	]
	def group(kind, sql):
	    for g, kinds, rx in RULES:
	        if (kinds is None or kind in kinds) and re.search(rx, sql):
	            return g
	    return "none"
	examples = []
	prose_spans = []
	for f in files:
	    lines = open(os.path.join(top, f), encoding="utf-8").read().split("\n")
	    prose = []		# (line number, text) outside fences
	    fence = None
	    for n, l in enumerate(lines, 1):
	        if fence is None:
	            m = re.match(r"^( *)(`{3,}|~{3,})\s*([\w+-]*)", l)
	            if m:
	                fence = (m.group(2)[0], len(m.group(2)), m.group(3).lower(), n, len(m.group(1)), [])
	                prose.append((n, ""))
	            else:
	                prose.append((n, l))
	            continue
	        if re.match(r"^ *" + re.escape(fence[0]) + r"{%d,}\s*$" % fence[1], l):
	            ch, ln, lang, start, indent, body = fence
	            fence = None
	            prose.append((n, ""))
	            body = [b[indent:] if b[:indent].strip() == "" else b for b in body]
	            if lang == "sql":
	                sql = "\n".join(body).strip("\n")
	                first = next((b.strip() for b in body if b.strip()), "")
	                if first.startswith(SKIP):
	                    examples.append((f, start, "block", sql, "skip", first[len(SKIP):].strip()))
	                else:
	                    examples.append((f, start, "block", sql, "run", ""))
	            elif lang in ("sh", "bash", "shell", "console"):
	                for k, b in enumerate(body, start + 1):
	                    m = re.match(r"^\s*(?:\$\s+)?psql\s+(?:-\S+\s+)*?-c\s+'([^']*)'", b)
	                    if m:
	                        examples.append((f, k, "psql", m.group(1), "run", ""))
	            continue
	        fence[5].append(l)
	    # inline spans, paragraph by paragraph
	    para, start = [], None
	    for n, l in prose + [(len(lines) + 1, "")]:
	        if l.strip() == "":
	            text = "\n".join(para)
	            for m in re.finditer(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", text, re.S):
	                span = " ".join(m.group(2).split())
	                if not KEYWORDS.match(span) or "..." in span or "…" in span or " " not in span:
	                    continue
	                if re.fullmatch(r"[A-Z ]+", span):	# keywords only: ALTER USER MAPPING
	                    prose_spans.append((f, start + text[:m.start()].count("\n"), span, "names nothing"))
	                    continue
	                examples.append((f, start + text[:m.start()].count("\n"), "inline", span, "candidate", ""))
	            para, start = [], None
	        else:
	            if start is None:
	                start = n
	            para.append(l)
	with open(os.path.join(out, "not_statements.tsv"), "w") as ns:
	    for f, n, span, why in prose_spans:
	        ns.write("%s:%d\t%s\t(%s)\n" % (f, n, span, why))
	order = {f: i for i, f in enumerate(files)}
	examples.sort(key=lambda e: (order[e[0]], e[1]))
	with open(os.path.join(out, "index.tsv"), "w") as idx:
	    for i, (f, n, kind, sql, status, reason) in enumerate(examples, 1):
	        with open(os.path.join(out, "%d.sql" % i), "w", encoding="utf-8") as s:
	            s.write(sql + "\n")
	        idx.write("\t".join([str(i), f, str(n), kind, group(kind, sql), status, reason]) + "\n")
	PY
	# inline candidates: statements only (the parser decides, nothing runs)
	: >"$dir/index.run.tsv"
	while IFS=$'\t' read -r id file line kind group status reason; do
		if [ "$status" = candidate ]; then
			if is_statement "$(cat "$dir/$id.sql")"; then
				status=run
			else
				printf '%s:%s\t%s\t(not a statement for the parser)\n' "$file" "$line" "$(cat "$dir/$id.sql")" >>"$dir/not_statements.tsv"
				continue
			fi
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$file" "$line" "$kind" "$group" "$status" "$reason" >>"$dir/index.run.tsv"
	done <"$dir/index.tsv"
	mv "$dir/index.run.tsv" "$dir/index.tsv"
}

# is_statement SQL: PostgreSQL's parser takes SQL as one statement (a
# PL/pgSQL validator parses the body's statements and runs nothing)
is_statement() {
	psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<-SQL
	SET log_min_messages = fatal;	-- prose refused is no error for the server log
	SET check_function_bodies = on;
	CREATE FUNCTION pg_temp.readme_parses() RETURNS void LANGUAGE plpgsql AS \$readme\$
	BEGIN
	$1;
	END
	\$readme\$;
	SQL
}

# ex_field ID N: field N of example ID's index line
ex_field() { awk -F'\t' -v id="$1" -v n="$2" '$1 == id { print $n }' "$readme_dir/index.tsv"; }
ex_sql() { cat "$readme_dir/$1.sql"; }
# where ID: README.md:236 (sql block)
where() {
	local kind
	kind=$(ex_field "$1" 4)
	case $kind in block) kind="sql block" ;; psql) kind="psql -c line" ;; inline) kind="inline code" ;; esac
	echo "$(ex_field "$1" 2):$(ex_field "$1" 3) ($kind)"
}
# examples GROUP KIND STATUS [FILE]: ids in document order
examples() {
	awk -F'\t' -v g="$1" -v k="$2" -v s="$3" -v f="${4:-}" \
		'(g == "any" || $5 == g) && (k == "any" || $4 == k || (k == "followup" && $4 != "block")) && $6 == s && (f == "" || $2 == f) { print $1 }' \
		"$readme_dir/index.tsv"
}
example_files() { awk -F'\t' '{ print $2 }' "$readme_dir/index.tsv" | awk '!seen[$0]++'; }

# ---------------------------------------------------------------- running

# substitute SQL: the placeholders replaced by the stack's values (in the
# shell, never on a command line); fails on a placeholder left over
substitute() {
	local s=$1
	s=${s//db.example.jp/127.0.0.1}
	s=${s//"port '3306'"/"port '$ECSYNC_MYSQL_PORT'"}
	s=${s//\/etc\/ecsync\/ca.pem/"$ECSYNC_MYSQL_SSL_CA"}
	s=${s//kafka1.example.jp:9092,kafka2.example.jp:9092/"$ECSYNC_KAFKA_BROKERS"}
	s=${s//"password '...'"/"password '$readme_pw'"}
	printf '%s' "$s"
}

leftover_placeholder() {
	[[ $1 == *example.jp* || $1 == *"password '...'"* ]]
}

mask() { local s=$1; printf '%s\n' "${s//"$readme_pw"/***}"; }

# run_block ID: a sql block as one psql script; its output in $block_out
run_block() {
	local sql rc=0
	sql=$(substitute "$(ex_sql "$1")")
	! leftover_placeholder "$sql" || fail "$(where "$1") holds a placeholder the test does not know (see the header)"
	echo "--- running $(where "$1") [$(ex_field "$1" 5)]"
	block_out=$(printf '%s\n' "$sql" | psql -X -v ON_ERROR_STOP=1 -f - 2>&1) || rc=$?
	block_out=$(mask "$block_out")
	echo "$block_out" | sed 's/^/    /'
	[ $rc = 0 ] || fail "$(where "$1"): the example failed as written"
	ran+=("$(where "$1")")
}

# validate_skipped ID: a skipped block's statements, rolled back
validate_skipped() {
	local sql out rc=0
	sql=$(substitute "$(ex_sql "$1")")
	out=$(printf 'BEGIN;\n%s\nROLLBACK;\n' "$sql" | psql -X -q -v ON_ERROR_STOP=1 -f - 2>&1) || rc=$?
	mask "$out"
	[ $rc = 0 ] || fail "$(where "$1"), a block the tests do not run, does not even pass PostgreSQL's checks"
	echo "--- skipped $(where "$1"): $(ex_field "$1" 7); its statements pass PostgreSQL's and ecsync's checks (rolled back)"
	skipped+=("$(where "$1"): $(ex_field "$1" 7)")
}

# run_followup ID: an inline or psql example; its output in $followup_out
run_followup() {
	local sql rc=0
	sql=$(substitute "$(ex_sql "$1")")
	! leftover_placeholder "$sql" || fail "$(where "$1") holds a placeholder the test does not know"
	echo "--- running $(where "$1") [$(ex_field "$1" 5)]: $sql"
	if [ "$(ex_field "$1" 4)" = psql ]; then
		followup_out=$(psql -X -v ON_ERROR_STOP=1 -c "$sql" 2>&1) || rc=$?
	else
		followup_out=$(printf '%s;\n' "$sql" | psql_q -f - 2>&1) || rc=$?
	fi
	followup_out=$(mask "$followup_out")
	echo "$followup_out" | sed 's/^/    /'
	[ $rc = 0 ] || fail "$(where "$1"): the example failed as written"
	ran+=("$(where "$1")")
}

# lang_of FILE: the language of a page (ja: README.ja.md and docs/ja/*)
lang_of() { case $1 in README.ja.md | docs/ja/*) echo ja ;; *) echo en ;; esac; }

# home_of GROUP LANG: the page of that language holding the group's first
# main block (docs/batch.md, docs/ja/streams.md, ...)
home_of() {
	local f
	for f in $(example_files); do
		[ "$(lang_of "$f")" = "$2" ] || continue
		[ -z "$(examples "$1" block run "$f")" ] || { echo "$f"; return; }
	done
}

# run_group GROUP PREPARE CHECK: the group's main blocks, each from a clean
# state (PREPARE FILE sets up what the block presumes), checked by CHECK ID;
# then each file's follow-ups, checked by followup_pre/followup_post.  The
# follow-ups of a page with no main block of the group (the front page,
# docs/analytics.md ...) run with those of the page of their language that
# has one (its home, home_of), after its last main block, as a reader of
# the page has run what it builds on.
run_group() {
	local g=$1 prepare=$2 check=$3 f id mains lang home followups
	local -A orphans=()
	for f in $(example_files); do
		[ -z "$(examples "$g" block run "$f")" ] || continue
		followups=$(examples "$g" followup run "$f")
		[ -n "$followups" ] || continue
		lang=$(lang_of "$f")
		home=$(home_of "$g" "$lang")
		[ -n "$home" ] || fail "group $g: $f has follow-ups but no page in its language ($lang) has a block to run them after: $(echo $followups)"
		echo "--- the $g follow-ups of $f run after the last $g block of $home"
		orphans[$home]="${orphans[$home]:-} $followups"
	done
	for f in $(example_files); do
		mains=$(examples "$g" block run "$f")
		[ -n "$mains" ] || continue
		for id in $mains; do
			readme_reset
			$prepare "$f"
			local s
			for s in $(examples "$g" block skip "$f"); do validate_skipped "$s"; done
			run_block "$id"
			$check "$id"
		done
		run_followups "$(examples "$g" followup run "$f") ${orphans[$f]:-}"
	done
	for f in $(example_files); do
		[ -n "$(examples "$g" block run "$f")" ] && continue
		for id in $(examples "$g" block skip "$f"); do
			echo "--- skipped $(where "$id"): $(ex_field "$id" 7)"
			skipped+=("$(where "$id"): $(ex_field "$id" 7)")
		done
	done
}

# run_followups "IDS": the ones that build the analytics layer first
run_followups() {
	local id first=() rest=()
	for id in $1; do
		if [[ $(ex_sql "$id") == *ecsync_create_analytics* ]]; then first+=("$id"); else rest+=("$id"); fi
	done
	for id in "${first[@]}" "${rest[@]}"; do
		followup_pre "$id"
		run_followup "$id"
		followup_post "$id"
	done
}

report() {
	local r
	echo
	echo "ran ${#ran[@]} examples:"
	for r in "${ran[@]}"; do echo "  $r"; done
	echo "skipped ${#skipped[@]}:"
	for r in "${skipped[@]}"; do echo "  $r"; done
	[ ${#ran[@]} -gt 0 ] || fail "no example ran"
}

# ---------------------------------------------------------------- state

pg_has() { [ "$(psql_q -c "SELECT count(*) FROM pg_extension WHERE extname = '$1'")" = 1 ]; }
topic_exists() { kcat -L -b "$ECSYNC_KAFKA_BROKERS" 2>/dev/null | grep -q "topic \"$1\""; }
ecsync_workers() {
	psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('ecsync batch', 'ecsync cdc', 'ecsync stream')"
}
no_ecsync_workers() { [ "$(ecsync_workers)" = 0 ]; }

# readme_begin [--read-only]: what the tests touch, as it is now; the
# examples; a trap that puts things back (--read-only: only the examples)
readme_begin() {
	export PGDATABASE=ecsync PGTZ=UTC
	readme_pw=$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")
	readme_dir=$(mktemp -d)
	ran=() skipped=()
	if [ "${1:-}" = --read-only ]; then
		# shellcheck disable=SC2064
		trap "rm -rf '$readme_dir'" EXIT
		readme_extract "$readme_dir"
		return
	fi
	had_ecsync=0 had_pg_cron=0 had_shop_tables=0 had_topic=0
	! pg_has ecsync || had_ecsync=1
	! pg_has pg_cron || had_pg_cron=1
	[ "$(my_q -e "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'shop'")" = 0 ] || had_shop_tables=1
	! topic_exists page_views || had_topic=1
	cron_jobs_before=0
	[ $had_pg_cron = 0 ] || cron_jobs_before=$(psql_q -c "SELECT coalesce(max(jobid), 0) FROM cron.job")
	trap readme_end EXIT
	readme_extract "$readme_dir"
}

# readme_reset: no ecsync, no worker, no example's job, schema, role or setting
readme_reset() {
	if pg_has ecsync; then
		# (an older version's catalog, in the upgrade test, has no cdc)
		psql_q -c "SELECT ecsync_stop_cdc(server_name) FROM ecsync.cdc_servers" >/dev/null 2>&1 || true
		psql_q -c "SELECT ecsync_unregister_stream(name) FROM ecsync.streams" >/dev/null
	fi
	wait_for 30 no_ecsync_workers || fail "ecsync workers still running: $(ecsync_workers)"
	if pg_has pg_cron; then
		psql_q -c "DELETE FROM cron.job WHERE jobid > $cron_jobs_before" >/dev/null
	fi
	psql_q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS ecsync CASCADE" \
		-c "DROP SCHEMA IF EXISTS shop, analytics CASCADE" \
		-c "ALTER DATABASE ecsync RESET ecsync.batch_carry_foreign_keys"
	local r
	for r in shop_etl metabase; do
		if [ "$(psql_q -c "SELECT count(*) FROM pg_roles WHERE rolname = '$r'")" = 1 ]; then
			psql_q -c "DROP OWNED BY $r CASCADE" -c "DROP ROLE $r" >/dev/null
		fi
	done
}

readme_end() {
	set +e
	echo "--- putting the stack back"
	readme_reset
	[ $had_pg_cron = 1 ] || psql_q -c "DROP EXTENSION IF EXISTS pg_cron"
	[ $had_ecsync = 0 ] || psql_q -c "CREATE EXTENSION IF NOT EXISTS ecsync"
	[ $had_pg_cron = 0 ] || pg_has pg_cron || psql_q -c "CREATE EXTENSION pg_cron"
	[ $had_shop_tables = 1 ] || my_q shop -e "SET foreign_key_checks = 0; DROP TABLE IF EXISTS sales_details, sales, products, users"
	my_q -e "DROP USER IF EXISTS 'etl'@'127.0.0.1'"
	[ $had_topic = 1 ] || ! topic_exists page_views || pv -t page_views --delete-topic -n 0 -q
	rm -rf "$readme_dir"
}

fresh_shop() { load_shop shop "$readme_scale" "$readme_seed" >/dev/null; }

# batch_block_of FILE: the batch block that cdc and stream blocks build on:
# the file's first, or else the first of a page of the same language (the
# source docs/batch.md or docs/ja/batch.md defines)
batch_block_of() {
	local id home
	id=$(examples batch block run "$1" | head -n 1)
	if [ -z "$id" ]; then
		home=$(home_of batch "$(lang_of "$1")")
		[ -z "$home" ] || id=$(examples batch block run "$home" | head -n 1)
	fi
	[ -n "$id" ] || fail "no batch block for $1 to build on (none in its language)"
	echo "$id"
}

# ---------------------------------------------------------------- checks

count_of() { my_q shop -e "SELECT count(*) FROM $1"; }

# shop_is_mysqls SCHEMA: every row as MariaDB's shop has it, DATETIME as
# Tokyo instants
shop_is_mysqls() {
	PGTZ=Asia/Tokyo assert_shop_equal shop "$1"
	assert_wall_clock shop "$1" Asia/Tokyo
	assert_eq "bigint|bigint" "$(psql_q -c "SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
		WHERE (a.attrelid, a.attname) IN (('$1.sales'::regclass, 'id'), ('$1.sales_details'::regclass, 'sale_id')) ORDER BY a.attrelid::regclass::text" | paste -sd'|')" \
		"bigint unsigned ids as bigint (bigint_unsigned 'bigint')"
}

# cron_job_checked NAME SCHEDULE COMMAND OWNER: the job is there, as the
# example says; it is paused, and its command is run now as its owner
cron_job_checked() {
	local job
	job=$(psql_q -c "SELECT jobid, schedule, command, username, database FROM cron.job WHERE jobname = '$1'")
	assert_match "^[0-9]+\|$2\|$3\|$4\|ecsync$" "$job" "pg_cron job $1"
	psql_q -c "SELECT cron.alter_job(${job%%|*}, active => false)" >/dev/null
	local cmd
	cmd=$(psql_q -c "SELECT command FROM cron.job WHERE jobname = '$1'")
	echo "pg_cron job $1 checked and paused; running its command as $4: $cmd"
	cron_out=$(psql_q -c "SET ROLE $4" -c "$cmd")
	echo "$cron_out" | sed 's/^/    /'
}

# The batch block: two runs (one atomic, one table by table), the shop as
# MariaDB has it, Tokyo instants, MySQL's keys carried over, the schedule.
check_batch_block() {
	local counts
	assert_eq "shop.products|succeeded
shop.sales|succeeded
shop.sales_details|succeeded
shop.users|succeeded" "$(psql_q -c "SELECT table_name, status FROM ecsync.run_tables
		WHERE run_id = (SELECT max(run_id) FROM ecsync.runs) ORDER BY 1")" "isolation 'table': every table's status"
	assert_eq "succeeded|run
succeeded|table" "$(psql_q -c "SELECT status, isolation FROM ecsync.runs ORDER BY run_id")" "the example's two runs, as ecsync.runs records them"
	counts="$(count_of products)|$(count_of sales)|$(count_of sales_details)|$(count_of users)"
	assert_eq "$counts" "$(psql_q -c "SELECT string_agg(rows_written::text, '|' ORDER BY table_name) FROM ecsync.run_tables
		WHERE run_id = (SELECT min(run_id) FROM ecsync.runs)")" "the first run's rows = MariaDB's (products|sales|details|users)"
	assert_eq "$counts" "$(psql_q -c "SELECT concat_ws('|', (SELECT count(*) FROM shop.products), (SELECT count(*) FROM shop.sales),
		(SELECT count(*) FROM shop.sales_details), (SELECT count(*) FROM shop.users))")" "row counts = MariaDB's"
	shop_is_mysqls shop
	# one sale by hand: MariaDB's wall-clock value, read as Tokyo's, is the instant
	local id wall
	id=$(my_q shop -e "SELECT max(id) FROM sales")
	wall=$(my_q shop -e "SELECT sold_at FROM sales WHERE id = $id")
	assert_eq "$(psql_q -c "SELECT '$wall'::timestamp AT TIME ZONE 'Asia/Tokyo'")" \
		"$(psql_q -c "SELECT sold_at FROM shop.sales WHERE id = $id")" \
		"sales.sold_at of sale $id (MariaDB: $wall, Tokyo wall-clock time)"
	assert_eq 3 "$(psql_q -c "SELECT count(*) FROM pg_constraint WHERE conname LIKE 'ecsync_fk_%' AND connamespace = 'shop'::regnamespace")" \
		"MySQL's three foreign keys carried over"
	cron_job_checked ecsync-shop '\*/10 \* \* \* \*' 'SELECT ecsync_run_batch\(\)' postgres
	assert_eq 4 "$(echo "$cron_out" | grep -cE '[|,]succeeded[|,]')" "the scheduled command syncs the four tables"
}

# The cdc block: a snapshot, then the binary log: every table streams, the
# shop stays MariaDB's, a change made there arrives (in Tokyo time).
cdc_streaming() {
	[ "$(psql_q -c "SELECT count(*) FROM ecsync.cdc_table_status WHERE server_name = 'shop_mysql' AND state = 'streaming'")" = 4 ]
}
# cdc_settled: every table streams, or one paused (no use waiting then)
cdc_settled() {
	cdc_streaming || [ "$(psql_q -c "SELECT count(*) FROM ecsync.cdc_table_status WHERE state = 'paused'")" != 0 ]
}
# wait_streaming WHAT: every table streams within 60 s
wait_streaming() {
	wait_for 60 cdc_settled && cdc_streaming ||
		fail "$1: $(psql_q -c "SELECT table_name, state, error FROM ecsync.cdc_table_status ORDER BY 1")"
}
cdc_caught_up() {
	[ "$(psql_q -c "SELECT applied_position FROM ecsync.cdc_status WHERE server_name = 'shop_mysql'")" = \
		"$(my_q -e "SHOW MASTER STATUS" | awk '{print $1 ":" $2}')" ]
}
cdc_worker_state() { psql_q -c "SELECT worker_running, coalesce(last_error, '') FROM ecsync.cdc_status WHERE server_name = 'shop_mysql'"; }
cdc_worker_ok() { [ "$(cdc_worker_state)" = "t|" ]; }
cdc_row() { [ "$(psql_q -c "SELECT count(*) FROM $1")" = "$2" ]; }

check_cdc_block() {
	wait_streaming "the tables do not all stream"
	wait_for 30 cdc_caught_up || fail "not caught up: $(psql_q -c "SELECT * FROM ecsync.cdc_status")"
	# the launcher may still be starting the worker again (naptime)
	wait_for 15 cdc_worker_ok ||
		assert_eq "t|" "$(cdc_worker_state)" "the worker runs, without error"
	assert_eq "cdc|cdc|cdc|cdc" "$(psql_q -c "SELECT string_agg(mode, '|') FROM ecsync.sync_tables")" "the registrations' mode"
	shop_is_mysqls shop
	# changes in MariaDB: a new sale at 08:30 Tokyo time, an update, a delete
	local sale line
	sale=$(($(my_q shop -e "SELECT max(id) FROM sales") + 1))
	line=$(($(my_q shop -e "SELECT max(id) FROM sales_details") + 1))
	my_q shop -e "INSERT INTO sales (id, user_id, sold_at, total, status) VALUES ($sale, 1, '2026-12-01 08:30:00', 1234.00, 'paid');
	              INSERT INTO sales_details (id, sale_id, product_id, quantity, unit_price) VALUES ($line, $sale, 1, 1, 1234.00);
	              UPDATE users SET occupation = 'その他' WHERE id = 2;
	              DELETE FROM sales_details WHERE id = 5"
	wait_for 20 cdc_row "shop.sales WHERE id = $sale" 1 || fail "the new sale $sale never arrived"
	assert_eq "2026-11-30 23:30:00+00" "$(psql_q -c "SELECT sold_at FROM shop.sales WHERE id = $sale")" \
		"a sale sold at 08:30 in Tokyo is 23:30 UTC the day before"
	wait_for 20 cdc_caught_up || fail "not caught up after the changes"
	assert_eq "その他|0" "$(psql_q -c "SELECT occupation, (SELECT count(*) FROM shop.sales_details WHERE id = 5) FROM shop.users WHERE id = 2")" \
		"the update and the delete"
	shop_is_mysqls shop
	assert_match '^[1-9][0-9]*\|[1-9][0-9]*\|[1-9][0-9]*$' "$(psql_q -c "SELECT sum(inserts), sum(updates), sum(deletes) FROM ecsync.cdc_table_status")" \
		"inserts, updates and deletes counted"
}

# The stream block: the topic's events, exactly, then more as they come.
stream_rows() { psql_q -c "SELECT count(*) FROM shop.page_views" 2>/dev/null; }
stream_has() { [ "$(stream_rows)" = "$1" ] && [ "$(psql_q -c "SELECT sum(lag) FROM ecsync.stream_partitions WHERE stream = 'page_views'")" = 0 ]; }

check_stream_block() {
	wait_for 30 stream_has 300 || fail "the stream did not catch up: $(psql_q -c "SELECT * FROM ecsync.stream_partitions")"
	assert_eq "4|300|300|0" "$(psql_q -c "SELECT count(*), sum(stored_offset), sum(high_watermark), sum(lag) FROM ecsync.stream_partitions")" \
		"ecsync.stream_partitions: four partitions, caught up"
	pv -t page_views -n 100 --scale "$readme_scale" --seed "$readme_seed" --echo "$readme_dir/sent2" -q
	wait_for 30 stream_has 400 || fail "the 100 events produced after the start: $(stream_rows) rows of 400"
	assert_eq 400 "$(psql_q -c "SELECT count(DISTINCT (kafka_topic, kafka_partition, kafka_offset)) FROM shop.page_views")" "each event once"
	assert_eq "$(cat "$readme_dir/sent" "$readme_dir/sent2" | cut -f2 | python3 -c 'import json, sys; print(sum(json.loads(l)["user_id"] for l in sys.stdin))')" \
		"$(psql_q -c "SELECT sum(user_id) FROM shop.page_views")" "the events' user_ids"
	assert_eq "page_views|shop.page_views|started|1|400|0|0" \
		"$(psql_q -c "SELECT stream, target, state, workers_running, rows_total, dead_total, lag FROM ecsync.stream_status")" "stream status"
}

# result_rows ID: the number of rows in $followup_out (psql's "(N rows)" of
# a psql -c line; one line a row of an inline example, run unaligned)
result_rows() {
	if [ "$(ex_field "$1" 4)" = psql ]; then
		sed -n 's/^(\([0-9]*\) rows\{0,1\})$/\1/p' <<<"$followup_out"
	else
		grep -c . <<<"$followup_out"
	fi
}

# followup_pre ID / followup_post ID: what each kind of follow-up changes
# first, and what its result must be
followup_pre() {
	local sql
	sql=$(ex_sql "$1")
	case $sql in
	*"isolation => 'table'"*)
		# something for the run to copy: a sale repriced, a user moved to 08:30 Tokyo time
		my_q shop -e "UPDATE sales SET total = total + 1 WHERE id % 100 = 0; UPDATE users SET created_at = '2026-12-01 08:30:00' WHERE id = 1" ;;
	*"GRANT shop_etl TO metabase"*)
		assert_eq 0 "$(psql_q -c "SET ROLE metabase" -c "SELECT count(*) FROM ecsync.runs")" "metabase sees no run before the grant" ;;
	*ecsync_cdc_resnapshot*)
		snapshots_before=$(psql_q -c "SELECT string_agg(table_name || '@' || snapshot_at, ',' ORDER BY table_name) FROM ecsync.cdc_table_status") ;;
	esac
}

followup_post() {
	local sql n
	sql=$(ex_sql "$1")
	case $sql in
	*"isolation => 'table'"*)
		assert_eq 4 "$(echo "$followup_out" | grep -cE '[|,]succeeded[|,]')" "every table's status is succeeded"
		assert_eq "succeeded|table" "$(psql_q -c "SELECT status, isolation FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" "the run, as ecsync.runs records it"
		shop_is_mysqls shop
		assert_eq "2026-11-30 23:30:00+00" "$(psql_q -c "SELECT created_at FROM shop.users WHERE id = 1")" "user 1, signed up at 08:30 Tokyo time" ;;
	*"SET ecsync.batch_carry_foreign_keys = off"*)
		assert_eq off "$(psql_q -c "SHOW ecsync.batch_carry_foreign_keys")" "a new session's setting"
		# a shop synced now gets no keys (the worker reads the setting)
		psql_q -c "SELECT count(*) FROM ecsync_register_shop('shop_mysql', 'shop_nofk')" -c "SELECT count(*) FROM ecsync_run_batch()" >/dev/null
		assert_eq 0 "$(psql_q -c "SELECT count(*) FROM pg_constraint WHERE connamespace = 'shop_nofk'::regnamespace AND contype = 'f'")" \
			"no foreign key carried with the setting off"
		assert_eq "$(count_of sales_details)" "$(psql_q -c "SELECT count(*) FROM shop_nofk.sales_details")" "that shop synced"
		psql_q -c "SELECT ecsync_unregister_table(t, 'shop_nofk') FROM unnest('{users,products,sales,sales_details}'::name[]) t" \
			-c "DROP SCHEMA shop_nofk CASCADE" -c "ALTER DATABASE ecsync RESET ecsync.batch_carry_foreign_keys" >/dev/null ;;
	"SELECT ecsync_run_batch()" | "SELECT * FROM ecsync_run_batch()")
		assert_eq 4 "$(echo "$followup_out" | grep -cE '[|,]succeeded[|,]')" "the superuser's run syncs its four tables"
		assert_eq "postgres|succeeded" "$(psql_q -c "SELECT owner::regrole, status FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" "as its caller" ;;
	*ecsync.cdc_status*)
		assert_match '^shop_mysql\|' "$followup_out" "ecsync.cdc_status: the server"
		wait_for 15 cdc_worker_ok || assert_eq "t|" "$(cdc_worker_state)" "its worker runs, without error" ;;
	*ecsync.status*)
		for n in shop.users shop.products shop.sales shop.sales_details; do
			assert_contains "$n" "$followup_out" "ecsync.status lists the shop"
		done
		assert_eq 4 "$(result_rows "$1")" "ecsync.status: the four tables" ;;
	*"ecsync_cdc_resnapshot('shop_mysql', 'shop.users')"*)
		assert_eq 1 "$followup_out" "tables re-snapshotted"
		wait_streaming "shop.users did not stream again"
		assert_eq "$(echo "$snapshots_before" | tr ',' '\n' | grep -v '^shop.users@' | paste -sd,)" \
			"$(psql_q -c "SELECT string_agg(table_name || '@' || snapshot_at, ',' ORDER BY table_name) FROM ecsync.cdc_table_status WHERE table_name <> 'shop.users'")" \
			"the other tables kept their snapshot"
		[ "$(psql_q -c "SELECT snapshot_at FROM ecsync.cdc_table_status WHERE table_name = 'shop.users'")" != \
			"$(echo "$snapshots_before" | tr ',' '\n' | sed -n 's/^shop.users@//p')" ] || fail "shop.users was not copied anew"
		wait_for 20 cdc_caught_up || fail "not caught up"
		shop_is_mysqls shop ;;
	*"ecsync_cdc_resnapshot('shop_mysql')"*)
		assert_eq 4 "$followup_out" "tables re-snapshotted"
		wait_streaming "the tables did not stream again"
		assert_eq 0 "$(psql_q -c "SELECT count(*) FROM ecsync.cdc_table_status t WHERE '$snapshots_before' LIKE '%' || table_name || '@' || snapshot_at || '%'")" \
			"every table copied anew"
		wait_for 20 cdc_caught_up || fail "not caught up"
		shop_is_mysqls shop ;;
	*"ecsync_create_analytics('shop')"*)
		assert_eq "$(count_of sales)" "$(psql_q -c "SELECT count(*) FROM analytics.orders")" "analytics.orders: every sale"
		assert_eq "$(my_q shop -e "SELECT SUM(total) FROM sales WHERE status IN ('paid', 'shipped')")" \
			"$(psql_q -c "SELECT sum(revenue) FROM analytics.sales_daily")" "revenue: MariaDB's paid and shipped sales"
		assert_eq "$(stream_rows)" "$(psql_q -c "SELECT count(*) FROM analytics.page_views")" "analytics.page_views: the stream's"
		assert_eq "analytics|postgres|" "$(psql_q -c "SELECT schema_name, owner::regrole, coalesce(last_error, '') FROM ecsync.analytics_layers")" "the layer" ;;
	*"cron.schedule('analytics'"*)
		local schedule
		schedule=$(sed -n "s/.*cron.schedule('analytics', '\([^']*\)'.*/\1/p" <<<"$sql")
		refreshed=$(psql_q -c "SELECT refreshed_at FROM ecsync.analytics_layers")
		cron_job_checked analytics "$(sed 's/\*/\\*/g' <<<"$schedule")" 'SELECT ecsync_refresh_analytics\(\)' postgres
		assert_eq 1 "$cron_out" "layers refreshed by the scheduled command"
		[ "$(psql_q -c "SELECT refreshed_at FROM ecsync.analytics_layers")" != "$refreshed" ] || fail "the layer was not refreshed" ;;
	*ecsync.stream_status*)
		assert_match "page_views *\| *page_views *\| *shop.page_views *\| *started" "$followup_out" "the stream, started" ;;
	*analytics.sales_daily*)
		assert_eq 7 "$(result_rows "$1")" "the last seven business days"
		assert_eq "$(psql_q -c "SELECT max(business_day) FROM analytics.sales_daily")" \
			"$(psql_q -c "$sql" | head -n 1 | cut -d'|' -f1)" "the newest business day first" ;;
	*"GRANT shop_etl TO metabase"*)
		assert_match '^[1-9][0-9]*\|4$' "$(psql_q -c "SET ROLE metabase" -c "SELECT (SELECT count(*) FROM ecsync.runs), (SELECT count(*) FROM ecsync.status)")" \
			"metabase sees shop_etl's runs and tables"
		assert_eq "$(count_of sales)" "$(psql_q -c "SET ROLE metabase" -c "SELECT count(*) FROM shop.sales")" "and reads its tables" ;;
	*)
		echo "    (ran without error; no check of its own: add one in followup_post)" ;;
	esac
}

# ---------------------------------------------------------------- tests

test_every_example_has_a_test() {
	readme_begin --read-only
	local id file line kind group status reason bad=0
	echo "examples in $(example_files | paste -sd' '):"
	while IFS=$'\t' read -r id file line kind group status reason; do
		printf '  %-18s %-7s %-9s %-4s %s\n' "$file:$line" "$kind" "$group" "$status" "$(head -n 1 "$readme_dir/$id.sql" | cut -c1-70)"
		if [ "$group" = none ]; then
			echo "    ^ no test runs this example: give it a rule in tests/integration/readme.sh" >&2
			bad=1
		fi
		[ "$status" != skip ] || [ -n "$reason" ] || { echo "    ^ skipped without a reason" >&2; bad=1; }
	done <"$readme_dir/index.tsv"
	echo "inline code starting with a keyword that is not a statement (prose):"
	sed 's/^/  /' "$readme_dir/not_statements.tsv"
	[ $bad = 0 ] || fail "examples without a test"
	# the extraction itself: each group has its blocks in both languages
	local g f lang home
	for lang in en ja; do
		for g in batch cdc stream security upgrade; do
			[ -n "$(home_of $g $lang)" ] || fail "no $g block found in the $lang pages: is the extraction broken?"
		done
	done
	[ "$(examples any any skip | wc -l)" -le 2 ] || fail "more examples skipped than the two SASL variants: keep skips minimal"
	# the front pages, and the page that defines the MySQL source the
	# others build on, say in their prose which values are placeholders
	local p prose
	for f in README.md README.ja.md "$(home_of batch en)" "$(home_of batch ja)"; do
		prose=$(awk '/^ *(```|~~~)/ { fence = !fence; next } !fence' "$ECSYNC_TOP/$f")
		for p in db.example.jp 3306 /etc/ecsync/ca.pem kafka1.example.jp:9092,kafka2.example.jp:9092 "'...'" tests/integration/readme.sh; do
			assert_contains "$p" "$prose" "$f names the placeholder $p (and this test) in its prose"
		done
	done
}

test_batch_examples() {
	readme_begin
	prepare_batch() { fresh_shop; }
	run_group batch prepare_batch check_batch_block
	report
}

test_cdc_examples() {
	readme_begin
	prepare_cdc() {
		fresh_shop
		run_block "$(batch_block_of "$1")"
		psql_q -c "SELECT cron.alter_job(jobid, active => false) FROM cron.job WHERE jobid > $cron_jobs_before" >/dev/null
	}
	run_group cdc prepare_cdc check_cdc_block
	report
}

test_stream_examples() {
	readme_begin
	prepare_stream() {
		fresh_shop
		pv -t page_views --delete-topic --partitions 4 -n 300 --scale "$readme_scale" --seed "$readme_seed" \
			--echo "$readme_dir/sent" -q
		run_block "$(batch_block_of "$1")"
		psql_q -c "SELECT cron.alter_job(jobid, active => false) FROM cron.job WHERE jobid > $cron_jobs_before" >/dev/null
	}
	run_group stream prepare_stream check_stream_block
	report
}

test_security_examples() {
	readme_begin
	prepare_security() {
		fresh_shop
		# what the example presumes: the role, its MySQL account, the extensions
		# (the password on stdin, never on a command line)
		printf "DROP USER IF EXISTS 'etl'@'127.0.0.1'; CREATE USER 'etl'@'127.0.0.1' IDENTIFIED BY '%s';
		        GRANT SELECT ON shop.* TO 'etl'@'127.0.0.1';\n" "$readme_pw" | my_q
		psql_q -c "CREATE ROLE shop_etl" -c "CREATE ROLE metabase" \
			-c "CREATE EXTENSION ecsync" -c "CREATE EXTENSION IF NOT EXISTS pg_cron"
	}
	check_security_block() {
		assert_eq "shop|4|shop_etl" "$(psql_q -c "SELECT target_schema, count(*), owner::regrole FROM ecsync.sync_tables GROUP BY 1, 3")" \
			"shop_etl's registrations"
		assert_eq "t" "$(psql_q -c "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'shop_etl'")" "shop_etl may log in"
		assert_eq "shop_etl|shop_etl|succeeded" "$(psql_q -c "SELECT owner::regrole, requested_by, status FROM ecsync.runs")" \
			"its run, as itself"
		assert_eq "shop_etl" "$(psql_q -c "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'shop'")" \
			"its targets belong to it"
		shop_is_mysqls shop
		cron_job_checked shop-sync '\*/10 \* \* \* \*' 'SELECT ecsync_run_batch\(\)' shop_etl
		assert_eq 4 "$(echo "$cron_out" | grep -cE '[|,]succeeded[|,]')" "its scheduled command syncs its four tables"
		assert_eq "shop_etl|succeeded" "$(psql_q -c "SELECT owner::regrole, status FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" "as shop_etl"
	}
	run_group security prepare_security check_security_block
	report
}

# The inline CREATE and ALTER EXTENSION, and the 0.3 stream upgrade: a real
# 0.3 installation, its stream's table made by 0.3, updated by ALTER
# EXTENSION, streaming as it was, then keyed by topic by the streams page's block.
test_extension_and_upgrade_examples() {
	readme_begin
	local id default
	default=$(psql_q -c "SELECT default_version FROM pg_available_extensions WHERE name = 'ecsync'")
	for id in $(examples extension followup run); do
		if [[ $(ex_sql "$id") == CREATE* ]]; then
			readme_reset
			run_followup "$id"
			assert_eq "$default|$default" "$(psql_q -c "SELECT extversion, ecsync_version() FROM pg_extension WHERE extname = 'ecsync'")" \
				"the extension and its library"
		fi
	done
	local updates
	updates=$(for id in $(examples extension followup run); do if [[ $(ex_sql "$id") == ALTER* ]]; then echo "$id"; fi; done)
	[ -n "$updates" ] || fail "no ALTER EXTENSION example found"
	for id in $(examples upgrade block run); do
		readme_reset
		pv -t page_views --delete-topic --partitions 2 -n 100 --scale "$readme_scale" --seed "$readme_seed" -q
		# a 0.3 installation with a stream, as 0.3 made it (not started: 0.3's catalog with this library)
		psql_q -c "CREATE EXTENSION ecsync VERSION '0.3'" \
			-c "CREATE SERVER shop_kafka FOREIGN DATA WRAPPER ecsync_kafka OPTIONS (bootstrap_servers '$ECSYNC_KAFKA_BROKERS')" \
			-c "CREATE SCHEMA shop" \
			-c "SELECT ecsync_register_stream('page_views', 'shop_kafka', target_schema => 'shop')" >/dev/null
		local u
		for u in $updates; do
			run_followup "$u"
			assert_eq "$default" "$(psql_q -c "SELECT extversion FROM pg_extension WHERE extname = 'ecsync'")" "version after $(where "$u")"
		done
		assert_eq "" "$(psql_q -c "SELECT attname FROM pg_attribute WHERE attrelid = 'shop.page_views'::regclass AND attname = 'kafka_topic'")" \
			"the 0.3 table kept as it was"
		psql_q -c "SELECT ecsync_start_stream('page_views')" >/dev/null
		wait_for 30 stream_has 100 || fail "the updated 0.3 stream did not ingest: $(psql_q -c "SELECT * FROM ecsync.stream_status")"
		run_block "$id"
		assert_eq "PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset)" \
			"$(psql_q -c "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'shop.page_views'::regclass AND contype = 'p'")" "the new key"
		assert_eq 1 "$(psql_q -c "SELECT count(*) FROM ecsync.streams, jsonb_array_elements(mapping) e WHERE name = 'page_views' AND e->>'source' = 'topic'")" \
			"the stream's mapping fills the topic"
		pv -t page_views -n 50 --scale "$readme_scale" --seed "$readme_seed" -q
		wait_for 30 stream_has 150 || fail "after the upgrade: $(stream_rows) rows of 150"
		assert_eq "page_views|150|150|0" "$(psql_q -c "SELECT min(kafka_topic), count(*), count(DISTINCT (kafka_partition, kafka_offset)),
			(SELECT count(*) FROM ecsync.dead_letters) FROM shop.page_views")" "every event once, keyed by topic"
	done
	report
}
