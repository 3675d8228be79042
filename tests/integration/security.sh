# The security model (docs/security.md) against the real stack: a
# hostile MySQL server, hostile Kafka properties, and two non-superuser
# roles, alice and bob, who must not reach each other's registrations,
# tables, runs or dead letters, nor the database server's files.

pvproduce=$ECSYNC_TOP/tests/gen/pvproduce
fake_mysql=$ECSYNC_TOP/tests/integration/fake_mysql.py
fake_port=$((ECSYNC_MYSQL_PORT + 90))

mysql_password() { cat "$ECSYNC_MYSQL_PASSWORD_FILE"; }

# sec_db NAME: a fresh database with ecsync, roles alice and bob (no
# superuser, no login needed: the tests SET ROLE), a MySQL server "src"
# both may use, and a user mapping for each with the MySQL password
sec_db() {
	psql_q -d ecsync -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)"
	psql_q -d ecsync -c "CREATE DATABASE $1"
	export PGDATABASE=$1 PGTZ=UTC
	psql_q <<-SQL
	DO \$\$ BEGIN
	  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alice') THEN CREATE ROLE alice LOGIN; END IF;
	  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bob') THEN CREATE ROLE bob LOGIN; END IF;
	END \$\$;
	CREATE EXTENSION ecsync;
	CREATE SCHEMA alice_s AUTHORIZATION alice;
	CREATE SCHEMA bob_s AUTHORIZATION bob;
	CREATE SERVER src FOREIGN DATA WRAPPER ecsync_mysql
	  OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database '${2:-s_shop}' ${ECSYNC_MYSQL_SERVER_TLS:-});
	GRANT USAGE ON FOREIGN SERVER src TO alice, bob;
	SQL
	for r in postgres alice bob; do
		psql_q <<-SQL
		CREATE USER MAPPING FOR $r SERVER src OPTIONS (user 'ecsync', password '$(mysql_password)')
		SQL
	done
}

# as ROLE SQL: run SQL as ROLE (a non-superuser), printing rows
as() {
	local role=$1
	shift
	psql_q -c "SET ROLE $role" -c "$*"
}

# my_shop DB: a small MySQL database with two tables
my_shop() {
	my_q -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1;
	         CREATE TABLE $1.items (id INT PRIMARY KEY, name VARCHAR(40), updated_at DATETIME(6));
	         INSERT INTO $1.items VALUES (1, 'ボールペン', NOW(6)), (2, 'ノート', NOW(6)), (3, '消しゴム', NOW(6));
	         CREATE TABLE $1.other (id INT PRIMARY KEY, v INT);
	         INSERT INTO $1.other VALUES (1, 10)"
}

# start_fake ATTACK [FILE]: the hostile MySQL server on fake_port; its log
# (one JSON line per connection) is $fake_log
start_fake() {
	fake_log=$(mktemp /tmp/ecsync-fake-mysql-XXXXXX.jsonl)
	python3 "$fake_mysql" --port "$fake_port" --attack "$1" --file "${2:-/etc/hostname}" \
		--log "$fake_log" >/dev/null 2>&1 &
	fake_pid=$!
	wait_for 10 port_listening "$fake_port"
}
stop_fake() { kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null || true; }

# assert_fake_got_nothing WHAT SECRET: the fake server saw connections, no
# CLIENT_LOCAL_FILES, and never SECRET
assert_fake_got_nothing() {
	cat "$fake_log"
	[ -s "$fake_log" ] || fail "$1: the fake server saw no connection"
	! grep -q '"client_local_files": true' "$fake_log" || fail "$1: the client offered LOCAL INFILE"
	! grep -qF -- "$2" "$fake_log" || fail "$1: the fake server received the secret"
}

# ---------------------------------------------------------------- a hostile MySQL server

test_mysql_server_cannot_read_local_files() {
	local marker secret out
	sec_db sec_infile
	# a file only the postgres OS user (and root) can read
	marker=$(mktemp /tmp/ecsync-secret-XXXXXX)
	secret="secret-$(date +%s%N)"
	echo "$secret" >"$marker"
	chown postgres "$marker"
	chmod 600 "$marker"
	start_fake infile "$marker"
	for mode in preferred disabled; do
		psql_q -c "CREATE SERVER fake_$mode FOREIGN DATA WRAPPER ecsync_mysql
		           OPTIONS (host '127.0.0.1', port '$fake_port', database 'shop', ssl_mode '$mode')"
		psql_q -c "CREATE USER MAPPING FOR CURRENT_USER SERVER fake_$mode OPTIONS (user 'u', password 'pw')"
		psql_q -c "SELECT ecsync_register_table('fake_$mode', 'users', 'stolen_$mode')" >/dev/null
		out=$(psql_q -c "SELECT * FROM ecsync_run_batch('stolen_$mode')" 2>&1 || true)
		echo "$out"
		assert_contains "failed" "$out" "the run against a hostile server fails ($mode)"
	done
	# a non-superuser's own server, aimed at the data directory's pg_hba.conf
	psql_q -c "GRANT USAGE ON FOREIGN DATA WRAPPER ecsync_mysql TO alice"
	as alice "CREATE SERVER alice_fake FOREIGN DATA WRAPPER ecsync_mysql
	          OPTIONS (host '127.0.0.1', port '$fake_port', database 'shop')"
	as alice "CREATE USER MAPPING FOR alice SERVER alice_fake OPTIONS (user 'u', password 'pw')"
	as alice "SELECT ecsync_register_table('alice_fake', 'users', 'stolen', target_schema => 'alice_s')" >/dev/null
	out=$(as alice "SELECT * FROM ecsync_run_batch('alice_s.stolen')" 2>&1 || true)
	assert_contains "failed" "$out" "alice's run against a hostile server fails"
	# and ecsync-ingest's snapshot
	local dir
	dir=$(mktemp -d /tmp/ecsync-fake-ingest-XXXXXX)
	printf 'archive.dir=%s/archive\nmysql.host=127.0.0.1\nmysql.port=%s\nmysql.database=shop\nmysql.user=u\nmysql.password=pw-%s\n' \
		"$dir" "$fake_port" "$secret" >"$dir/ingest.conf"
	chmod 600 "$dir/ingest.conf"
	for mode in preferred disabled; do
		out=$(ecsync-ingest -q -c "$dir/ingest.conf" -X mysql.ssl-mode=$mode --snapshot 2>&1) && fail "snapshot from a hostile server succeeded"
		echo "$out"
	done
	stop_fake
	assert_fake_got_nothing "LOCAL INFILE" "$secret"
	assert_eq 8 "$(grep -c . "$fake_log")" "connections the fake server saw (2 superuser and 1 alice, each registration and run; 2 ingester)"
	rm -rf "$marker" "$dir" "$fake_log"
}

test_mysql_server_cannot_get_the_password_in_clear() {
	local secret out dir
	sec_db sec_clear
	secret="pw-$(date +%s%N)"
	dir=$(mktemp -d /tmp/ecsync-fake-ingest-XXXXXX)
	printf 'archive.dir=%s/archive\nmysql.host=127.0.0.1\nmysql.port=%s\nmysql.database=shop\nmysql.user=u\nmysql.password=%s\n' \
		"$dir" "$fake_port" "$secret" >"$dir/ingest.conf"
	chmod 600 "$dir/ingest.conf"
	for attack in clear dialog; do
		start_fake $attack
		psql_q -c "CREATE SERVER fake_$attack FOREIGN DATA WRAPPER ecsync_mysql
		           OPTIONS (host '127.0.0.1', port '$fake_port', database 'shop', ssl_mode 'preferred')"
		psql_q <<-SQL
		CREATE USER MAPPING FOR CURRENT_USER SERVER fake_$attack OPTIONS (user 'u', password '$secret')
		SQL
		psql_q -c "SELECT ecsync_register_table('fake_$attack', 'users', 'u_$attack')" >/dev/null
		out=$(psql_q -c "SELECT * FROM ecsync_run_batch('u_$attack')" 2>&1 || true)
		echo "$out"
		assert_contains "authentication plugin that ecsync refuses" "$out" "the run names the refused plugin ($attack)"
		out=$(ecsync-ingest -q -c "$dir/ingest.conf" --snapshot 2>&1) && fail "snapshot succeeded"
		echo "$out"
		assert_contains "authentication plugin that ecsync refuses" "$out" "ecsync-ingest names the refused plugin ($attack)"
		stop_fake
		assert_fake_got_nothing "auth switch to $attack" "$secret"
		rm -f "$fake_log"
	done
	# the error, the history and the log never hold the password either
	! psql_q -c "SELECT error FROM ecsync.runs" | grep -qF -- "$secret" || fail "password in ecsync.runs"
	! grep -qF -- "$secret" "$ECSYNC_RUN_DIR/pg/postgresql.log" || fail "password in the server log"
	rm -rf "$dir"
}

test_ingester_refuses_mysql_spelling_of_ssl_modes() {
	local out rc=0
	out=$(ecsync-ingest -d /tmp/ecsync-none -X mysql.database=x -X mysql.ssl-mode=VERIFY_IDENTITY --snapshot 2>&1) || rc=$?
	echo "$out"
	assert_eq 2 "$rc" "exit code of a configuration error"
	assert_contains 'mysql.ssl-mode' "$out" "the error names the key"
	assert_contains 'verify_identity' "$out" "the error lists the valid modes"
}

# ---------------------------------------------------------------- hostile Kafka properties

test_kafka_properties_cannot_run_code_as_postgres() {
	local marker out
	export PGDATABASE=ecsync PGTZ=UTC
	psql_q -c "CREATE EXTENSION IF NOT EXISTS ecsync"
	psql_q -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alice') THEN CREATE ROLE alice LOGIN; END IF; END \$\$"
	psql_q -c "GRANT USAGE ON FOREIGN DATA WRAPPER ecsync_kafka TO alice"
	psql_q -c "GRANT CREATE ON SCHEMA public TO alice"
	marker=/tmp/ecsync-kinit-$$
	rm -f "$marker"
	# refused for alice before librdkafka sees them, each with the reason
	for opt in "\"plugin.library.paths\" '/tmp/evil.so'" "\"sasl.kerberos.kinit.cmd\" 'touch $marker'" \
		"\"ssl.engine.location\" '/tmp/evil.so'" "\"ssl.providers\" 'evil'" \
		"\"ssl.key.location\" '$ECSYNC_RUN_DIR/pg/data/server.key'" "\"sasl.kerberos.keytab\" '/etc/krb5.keytab'" \
		"\"sasl.oauthbearer.token.endpoint.url\" 'http://127.0.0.1:1/'" "\"no.such.property\" 'x'"; do
		out=$(as alice "CREATE SERVER evil FOREIGN DATA WRAPPER ecsync_kafka OPTIONS (bootstrap_servers '$ECSYNC_KAFKA_BROKERS', $opt)" 2>&1) &&
			fail "alice set $opt"
		echo "$out"
		assert_match "not allowed|only a superuser" "$out" "refused: $opt"
	done
	# a superuser's server keeps a command; given to alice, it never runs
	psql_q -c "DROP SERVER IF EXISTS krb CASCADE"
	psql_q -c "CREATE SERVER krb FOREIGN DATA WRAPPER ecsync_kafka OPTIONS (bootstrap_servers '$ECSYNC_KAFKA_BROKERS',
	           \"security.protocol\" 'sasl_plaintext', \"sasl.mechanism\" 'GSSAPI',
	           \"sasl.kerberos.kinit.cmd\" 'touch $marker', \"sasl.kerberos.min.time.before.relogin\" '1000')"
	psql_q -c "ALTER SERVER krb OWNER TO alice"
	as alice "SELECT ecsync_register_stream('sec_krb', 'krb', topic => 'sec_krb', target_table => 'sec_krb')" >/dev/null
	as alice "SELECT ecsync_start_stream('sec_krb')" >/dev/null
	stream_error() { psql_q -c "SELECT last_error FROM ecsync.streams WHERE name = 'sec_krb'"; }
	has_error() { [ -n "$(stream_error)" ]; }
	wait_for 20 has_error || fail "the stream recorded no error"
	out=$(stream_error)
	echo "$out"
	assert_contains 'only a superuser may set Kafka property' "$out" "re-checked against the server's owner at worker start"
	sleep 2
	[ ! -e "$marker" ] || fail "the kinit command ran"
	as alice "SELECT ecsync_unregister_stream('sec_krb')" >/dev/null
	psql_q -c "DROP TABLE sec_krb CASCADE; DROP SERVER krb CASCADE"
	psql_q -c "REVOKE USAGE ON FOREIGN DATA WRAPPER ecsync_kafka FROM alice; REVOKE CREATE ON SCHEMA public FROM alice"
}

# ---------------------------------------------------------------- owners and rows

test_registrations_belong_to_their_owner() {
	local out
	my_shop s_shop
	sec_db sec_owner s_shop
	as alice "SELECT ecsync_register_table('src', 'items', target_schema => 'alice_s', mode => 'incremental')" >/dev/null
	as bob "SELECT ecsync_register_table('src', 'other', target_schema => 'bob_s')" >/dev/null
	# each sees its own registration only
	assert_eq "alice_s|items|alice" "$(as alice "SELECT target_schema, target_table, owner::regrole FROM ecsync.sync_tables")" "alice's view"
	assert_eq "bob_s|other|bob" "$(as bob "SELECT target_schema, target_table, owner::regrole FROM ecsync.sync_tables")" "bob's view"
	# bob can neither take over, change nor drop alice's registration
	out=$(as bob "SELECT ecsync_register_table('src', 'other', 'items', target_schema => 'alice_s')" 2>&1) && fail "bob took over"
	assert_contains 'belongs to role "alice"' "$out" "takeover refused"
	out=$(as bob "SELECT ecsync_unregister_table('items', 'alice_s')" 2>&1) && fail "bob unregistered alice's table"
	assert_contains 'belongs to role "alice"' "$out" "unregister refused"
	# nor write the catalog directly, nor forge an owner
	out=$(as bob "UPDATE ecsync.sync_tables SET owner = 10" 2>&1) && fail "bob updated the catalog"
	assert_contains 'permission denied' "$out" "catalog update refused"
	out=$(as bob "INSERT INTO ecsync.sync_tables (server_name, source_table, target_schema, target_table, mode, owner)
	              VALUES ('src', 'other', 'public', 'x', 'full', 10)" 2>&1) && fail "bob inserted into the catalog"
	out=$(as bob "SELECT ecsync.catalog_register_table(10, '{}')" 2>&1) && fail "bob called a catalog function"
	# runs: each role runs its own, as itself
	as alice "SELECT * FROM ecsync_run_batch()" >/dev/null
	assert_eq "alice" "$(psql_q -c "SELECT tableowner FROM pg_tables WHERE schemaname = 'alice_s' AND tablename = 'items'")" \
		"the target is created as its registration's owner"
	assert_eq "3" "$(as alice "SELECT count(*) FROM alice_s.items")" "alice's rows"
	assert_eq "0" "$(as bob "SELECT count(*) FROM ecsync.runs")" "bob sees no run of alice's"
	assert_eq "0" "$(as bob "SELECT count(*) FROM ecsync.run_tables")" "bob sees no table of alice's runs"
	assert_eq "bob_s.other" "$(as bob "SELECT string_agg(table_name, ',') FROM ecsync.status")" "bob's status shows his table only"
	assert_eq "1|alice" "$(as alice "SELECT count(*), min(owner::regrole::text) FROM ecsync.runs")" "alice sees her run"
	out=$(as bob "SELECT * FROM ecsync_run_batch('alice_s.items')" 2>&1) && fail "bob ran alice's table"
	assert_contains 'is not registered' "$out" "alice's table is invisible to bob"
	# a superuser's run (what pg_cron runs) syncs the superuser's tables only ...
	psql_q -c "SELECT ecsync_register_table('src', 'other', 'su_other')" >/dev/null
	my_q s_shop -e "INSERT INTO items VALUES (4, 'のり', NOW(6))"
	assert_eq "public.su_other" "$(psql_q -c "SELECT table_name FROM ecsync_run_batch()")" "superuser's run"
	assert_eq "3" "$(as alice "SELECT count(*) FROM alice_s.items")" "alice's table untouched by the superuser's run"
	# ... and a table it names, as that table's owner
	psql_q -c "SELECT * FROM ecsync_run_batch('alice_s.items')" >/dev/null
	assert_eq "4" "$(as alice "SELECT count(*) FROM alice_s.items")" "alice's table, synced by a superuser"
	assert_eq "alice|postgres" "$(psql_q -c "SELECT owner::regrole, requested_by FROM ecsync.runs ORDER BY run_id DESC LIMIT 1")" \
		"the run's role and who asked"
}

test_a_registration_cannot_reach_another_roles_table() {
	local out
	my_shop s_shop
	sec_db sec_reach s_shop
	# alice registers into bob's schema before bob's table exists ...
	as alice "SELECT ecsync_register_table('src', 'other', 'victim', target_schema => 'bob_s')" >/dev/null
	as alice "SELECT ecsync_register_table('src', 'other', 'planted', target_schema => 'bob_s')" >/dev/null
	# ... then bob fills it
	as bob "CREATE TABLE bob_s.victim (id int PRIMARY KEY, v int); INSERT INTO bob_s.victim SELECT g, g FROM generate_series(1, 1000) g"
	# a superuser's run of it runs as alice, who may not touch bob's table
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch('bob_s.victim')" 2>&1) && fail "alice's registration truncated bob's table"
	echo "$out"
	assert_contains 'permission denied' "$out" "runs as alice"
	assert_eq 1000 "$(psql_q -c "SELECT count(*) FROM bob_s.victim")" "bob's rows"
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch('bob_s.planted')" 2>&1) && fail "alice created a table in bob's schema"
	assert_contains 'permission denied for schema bob_s' "$out" "no table planted in bob's schema"
	# registering onto an existing table needs its privileges
	as bob "CREATE TABLE bob_s.victim3 (id int PRIMARY KEY, v int)"
	out=$(as alice "SELECT ecsync_register_table('src', 'other', 'victim3', target_schema => 'bob_s')" 2>&1) && fail "registered onto bob's table"
	assert_contains 'lacks INSERT, TRUNCATE privilege' "$out" "registration refused"
	# one role's broken registration does not fail another role's run
	# (a table that MySQL drops after its registration was checked)
	my_q s_shop -e "CREATE TABLE soon_gone (id INT PRIMARY KEY)"
	as alice "SELECT ecsync_register_table('src', 'soon_gone', 'broken', target_schema => 'alice_s')" >/dev/null
	my_q s_shop -e "DROP TABLE soon_gone"
	psql_q -c "SELECT ecsync_register_table('src', 'items', 'su_items')" >/dev/null
	assert_eq "public.su_items|3" "$(psql_q -c "SELECT table_name, rows_written FROM ecsync_run_batch()")" "the superuser's run"
}

test_server_usage_password_and_file_options_are_checked_at_run_time() {
	local out
	my_shop s_shop
	sec_db sec_usage s_shop
	as alice "SELECT ecsync_register_table('src', 'items', target_schema => 'alice_s')" >/dev/null
	psql_q -c "REVOKE USAGE ON FOREIGN SERVER src FROM alice"
	out=$(as alice "SELECT * FROM ecsync_run_batch()" 2>&1) && fail "ran without USAGE"
	assert_contains 'may not use server "src"' "$out" "USAGE checked at run time"
	out=$(as alice "SELECT ecsync_register_table('src', 'other', target_schema => 'alice_s')" 2>&1) && fail "registered without USAGE"
	assert_contains 'may not use server "src"' "$out" "USAGE checked at registration"
	psql_q -c "GRANT USAGE ON FOREIGN SERVER src TO alice"
	# a non-superuser's mapping must carry a password
	psql_q -c "ALTER USER MAPPING FOR alice SERVER src OPTIONS (DROP password)"
	out=$(as alice "SELECT * FROM ecsync_run_batch()" 2>&1) && fail "ran without a password"
	assert_contains 'a password is required' "$out" "password required"
	psql_q <<-SQL
	ALTER USER MAPPING FOR alice SERVER src OPTIONS (ADD password '$(mysql_password)')
	SQL
	as alice "SELECT * FROM ecsync_run_batch()" >/dev/null
	# a server naming a server file, handed to alice, stops working
	psql_q -c "CREATE SERVER tls FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host '127.0.0.1',
	           port '$ECSYNC_MYSQL_PORT', database 's_shop' ${ECSYNC_MYSQL_SERVER_TLS:-, ssl_ca '$ECSYNC_MYSQL_SSL_CA'})"
	psql_q -c "GRANT USAGE ON FOREIGN DATA WRAPPER ecsync_mysql TO alice; GRANT USAGE ON FOREIGN SERVER tls TO alice"
	psql_q <<-SQL
	CREATE USER MAPPING FOR alice SERVER tls OPTIONS (user 'ecsync', password '$(mysql_password)')
	SQL
	as alice "SELECT ecsync_register_table('tls', 'other', target_schema => 'alice_s')" >/dev/null
	psql_q -c "ALTER SERVER tls OWNER TO alice"
	out=$(as alice "SELECT * FROM ecsync_run_batch('alice_s.other')" 2>&1) && fail "a file option worked on alice's server"
	assert_contains 'only allowed on a superuser' "$out" "file options re-checked against the server's owner"
	# the registration's own check of the source reads the server the same way
	out=$(as alice "SELECT ecsync_register_table('tls', 'items', 'items2', target_schema => 'alice_s')" 2>&1) && fail "registration read a file option on alice's server"
	assert_contains 'only allowed on a superuser' "$out" "file options checked at registration"
}

test_targets_with_row_level_security_are_refused() {
	local out
	my_shop s_shop
	sec_db sec_rls s_shop
	as alice "CREATE TABLE alice_s.items (id int PRIMARY KEY, name varchar(40), updated_at timestamp(6));
	          ALTER TABLE alice_s.items ENABLE ROW LEVEL SECURITY; ALTER TABLE alice_s.items FORCE ROW LEVEL SECURITY;
	          CREATE POLICY only_one ON alice_s.items USING (id = 1)"
	out=$(as alice "SELECT ecsync_register_table('src', 'items', target_schema => 'alice_s')" 2>&1) && fail "RLS target registered"
	assert_contains 'row-level security' "$out" "refused at registration"
	# a policy enabled after registration is refused at run time
	as alice "ALTER TABLE alice_s.items NO FORCE ROW LEVEL SECURITY; ALTER TABLE alice_s.items DISABLE ROW LEVEL SECURITY"
	psql_q -c "GRANT INSERT, TRUNCATE ON alice_s.items TO bob; GRANT USAGE ON SCHEMA alice_s TO bob"
	as bob "SELECT ecsync_register_table('src', 'items', target_schema => 'alice_s')" >/dev/null
	as alice "ALTER TABLE alice_s.items ENABLE ROW LEVEL SECURITY"
	out=$(as bob "SELECT * FROM ecsync_run_batch()" 2>&1) && fail "bypassed alice's policy"
	assert_contains 'row-level security enabled for role "bob"' "$out" "refused at run time"
	assert_eq 0 "$(psql_q -c "SELECT count(*) FROM alice_s.items")" "nothing written"
}

# ---------------------------------------------------------------- streams

test_streams_belong_to_their_owner() {
	local out topic=sec_pv
	export PGDATABASE=ecsync PGTZ=UTC
	psql_q <<-SQL
	CREATE EXTENSION IF NOT EXISTS ecsync;
	DO \$\$ BEGIN
	  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alice') THEN CREATE ROLE alice LOGIN; END IF;
	  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bob') THEN CREATE ROLE bob LOGIN; END IF;
	END \$\$;
	DROP SCHEMA IF EXISTS alice_pv CASCADE;
	CREATE SCHEMA alice_pv AUTHORIZATION alice;
	DROP SERVER IF EXISTS sec_kafka CASCADE;
	CREATE SERVER sec_kafka FOREIGN DATA WRAPPER ecsync_kafka OPTIONS (bootstrap_servers '$ECSYNC_KAFKA_BROKERS');
	GRANT USAGE ON FOREIGN SERVER sec_kafka TO alice, bob;
	SQL
	"$pvproduce" -t $topic -n 200 --partitions 2 >/dev/null
	printf 'not json at all\n' | kcat -P -b "$ECSYNC_KAFKA_BROKERS" -t $topic -p 0
	as alice "SELECT ecsync_register_stream('$topic', 'sec_kafka', topic => '$topic', target_schema => 'alice_pv', target_table => 'pv', batch_size => 50)" >/dev/null
	# the rows are written as alice: a trigger records who
	as alice "ALTER TABLE alice_pv.pv ADD COLUMN written_by name DEFAULT current_user"
	as alice "SELECT ecsync_start_stream('$topic')" >/dev/null
	arrived() { [ "$(psql_q -c "SELECT (SELECT count(*) FROM alice_pv.pv) + (SELECT count(*) FROM ecsync.dead_letters WHERE stream = '$topic')")" -ge 201 ]; }
	wait_for 30 arrived || fail "the stream did not catch up"
	assert_eq "alice|200" "$(psql_q -c "SELECT min(written_by), count(*) FROM alice_pv.pv")" "rows written as alice"
	# bob sees none of it and changes nothing
	assert_eq "0|0|0|0" "$(as bob "SELECT (SELECT count(*) FROM ecsync.streams), (SELECT count(*) FROM ecsync.stream_offsets),
	                                      (SELECT count(*) FROM ecsync.dead_letters), (SELECT count(*) FROM ecsync.stream_status)")" \
		"bob's view of alice's stream"
	for f in ecsync_stop_stream ecsync_start_stream ecsync_restart_stream ecsync_unregister_stream; do
		out=$(as bob "SELECT $f('$topic')" 2>&1) && fail "bob could $f"
		assert_contains 'belongs to role "alice"' "$out" "$f refused"
	done
	psql_q -c "CREATE TABLE public.bob_pv (LIKE alice_pv.pv); ALTER TABLE public.bob_pv OWNER TO bob"
	out=$(as bob "SELECT ecsync_register_stream('$topic', 'sec_kafka', topic => '$topic', target_table => 'bob_pv')" 2>&1) &&
		fail "bob re-registered alice's stream"
	assert_contains 'belongs to role "alice"' "$out" "takeover refused"
	out=$(as bob "UPDATE ecsync.streams SET owner = 10" 2>&1) && fail "bob updated ecsync.streams"
	# alice sees her dead letter, and a running worker without pg_monitor
	assert_eq "1|not_json" "$(as alice "SELECT count(*), min(kind) FROM ecsync.dead_letters WHERE stream = '$topic'")" "alice's dead letter"
	assert_eq "1|1" "$(as alice "SELECT workers_wanted, workers_running FROM ecsync.stream_status WHERE stream = '$topic'")" \
		"workers_running as seen by a role without pg_monitor"
	as alice "SELECT ecsync_unregister_stream('$topic')" >/dev/null
	psql_q -c "DROP SCHEMA alice_pv CASCADE; DROP TABLE public.bob_pv; DROP SERVER sec_kafka CASCADE"
}

test_batch_runs_of_other_roles_are_not_marked_failed() {
	# a role that cannot see another's worker in pg_stat_activity must not
	# take its running run for dead
	my_q -e "DROP DATABASE IF EXISTS s_slow; CREATE DATABASE s_slow;
	         CREATE TABLE s_slow.big (id INT PRIMARY KEY, v VARCHAR(200));
	         INSERT INTO s_slow.big SELECT seq, REPEAT('x', 200) FROM ($(seq_sql 400000)) s"
	sec_db sec_alive s_slow
	psql_q -c "SELECT ecsync_register_table('src', 'big', 'big')" >/dev/null
	as alice "SELECT ecsync_register_table('src', 'big', 'big', target_schema => 'alice_s')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch()" >/dev/null &
	local bg=$!
	running() { [ "$(psql_q -c "SELECT count(*) FROM ecsync.runs WHERE status = 'running'")" = 1 ]; }
	wait_for 20 running || fail "the superuser's run never showed as running"
	as alice "SELECT * FROM ecsync_run_batch()" >/dev/null
	wait $bg || fail "the superuser's run failed"
	assert_eq "succeeded|succeeded" "$(psql_q -c "SELECT string_agg(status, '|' ORDER BY run_id) FROM ecsync.runs")" "both runs"
}

# ---------------------------------------------------------------- encodings

test_a_euc_jp_database_gets_japanese_text_converted() {
	local out
	my_q -e "DROP DATABASE IF EXISTS s_euc; CREATE DATABASE s_euc;
	         CREATE TABLE s_euc.items (id INT PRIMARY KEY, name VARCHAR(40));
	         INSERT INTO s_euc.items VALUES (1, 'さくら文具 ボールペン'), (2, '消しゴム「白」');
	         CREATE TABLE s_euc.emoji (id INT PRIMARY KEY, name VARCHAR(40));
	         INSERT INTO s_euc.emoji VALUES (1, 'ペン 🖊')"
	psql_q -d ecsync -c "DROP DATABASE IF EXISTS sec_euc WITH (FORCE)"
	psql_q -d ecsync -c "CREATE DATABASE sec_euc ENCODING 'EUC_JP' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
	export PGDATABASE=sec_euc PGCLIENTENCODING=UTF8
	psql_q -c "CREATE EXTENSION ecsync"
	psql_q -c "CREATE SERVER src FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database 's_euc' ${ECSYNC_MYSQL_SERVER_TLS:-})"
	psql_q <<-SQL
	CREATE USER MAPPING FOR CURRENT_USER SERVER src OPTIONS (user 'ecsync', password '$(mysql_password)')
	SQL
	psql_q -c "SELECT ecsync_register_table('src', 'items')" >/dev/null
	psql_q -c "SELECT * FROM ecsync_run_batch('items')" >/dev/null
	assert_eq "$(my_q s_euc -e "SELECT CONCAT(id, '|', name) FROM items ORDER BY id")" \
		"$(psql_q -c "SELECT id || '|' || name FROM items ORDER BY id")" "Japanese text in EUC_JP"
	assert_eq 21 "$(psql_q -c "SELECT octet_length(name) FROM items WHERE id = 1")" "stored in EUC_JP (2 bytes a character), not UTF-8"
	# what EUC_JP cannot hold is refused with PostgreSQL's own message
	psql_q -c "SELECT ecsync_register_table('src', 'emoji')" >/dev/null
	out=$(psql_q -c "SELECT * FROM ecsync_run_batch('emoji')" 2>&1) && fail "an emoji went into EUC_JP"
	echo "$out"
	assert_contains 'has no equivalent in encoding "EUC_JP"' "$out" "clear error"
	unset PGCLIENTENCODING
}
