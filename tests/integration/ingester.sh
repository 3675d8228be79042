# ecsync-ingest's command line, and the C unit tests under valgrind (under
# the sanitizers: sanitize.sh).

ingest=$ECSYNC_TOP/ingester/ecsync-ingest

test_help_lists_every_option() {
	local out
	out=$("$ingest" --help)
	for o in --stream --snapshot --verify --load-script --copy-text --once --gzip --config -X --dump-config \
		--version --help ECSYNC_MYSQL_PASSWORD "Exit codes" roll.bytes roll.seconds; do
		assert_contains "$o" "$out" "--help mentions $o"
	done
	assert_match '^ecsync-ingest 0\.5 \(librdkafka [0-9.]+, jansson [0-9.]+, libmariadb [0-9.]+\)$' "$("$ingest" --version)" "--version"
}

test_usage_errors_exit_2() {
	local rc=0
	"$ingest" --no-such-option >/dev/null 2>&1 || rc=$?
	assert_eq 2 "$rc" "exit code of an unknown option"
	rc=0
	"$ingest" stray-argument >/dev/null 2>&1 || rc=$?
	assert_eq 2 "$rc" "exit code of a stray argument"
	local out
	rc=0
	out=$("$ingest" -d /tmp 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit code without a mode"
	assert_contains "no mode given" "$out" "says a mode is needed"
	rc=0
	out=$("$ingest" --stream 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit code without an archive directory"
	assert_contains "archive.dir" "$out" "names the setting"
	rc=0
	out=$("$ingest" --stream --snapshot -d /tmp 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit code of two modes"
}

test_config_file_and_secrets() {
	local dir out rc=0
	dir=$(mktemp -d)
	printf 'topic = page_views\nkafka.bootstrap.servers = %s\nmysql.user = ecsync\nmysql.password = s3cret-pw\n' \
		"$ECSYNC_KAFKA_BROKERS" >"$dir/ingest.conf"
	chmod 644 "$dir/ingest.conf"
	out=$("$ingest" -c "$dir/ingest.conf" --dump-config 2>&1) || rc=$?
	assert_eq 2 "$rc" "a world-readable config holding a password is refused"
	assert_contains "chmod 600" "$out" "the refusal says how to fix it"
	chmod 600 "$dir/ingest.conf"
	out=$("$ingest" -c "$dir/ingest.conf" -X topic=other --dump-config)
	assert_contains "topic=other	# -X" "$out" "-X overrides the file"
	assert_contains "mysql.password=********" "$out" "password masked"
	[[ $out != *s3cret-pw* ]] || fail "password printed by --dump-config"
	out=$(ECSYNC_MYSQL_PASSWORD=env-pw "$ingest" --dump-config)
	assert_contains "mysql.password=********	# env ECSYNC_MYSQL_PASSWORD" "$out" "password from the environment"
	rm -rf "$dir"
}

test_secret_on_command_line_is_refused_unechoed() {
	local out rc=0
	out=$("$ingest" -X mysql.password=hunter2 --dump-config 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit code"
	assert_contains "not accepted on the command line" "$out" "message"
	[[ $out != *hunter2* ]] || fail "the secret was echoed: $out"
}

test_kafka_properties_validated_by_librdkafka() {
	local out rc=0
	out=$("$ingest" -X kafka.fetch.max.bytes=banana --dump-config 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit code"
	assert_contains "kafka.fetch.max.bytes" "$out" "names the property"
	rc=0
	out=$("$ingest" -X mysql.hots=db --dump-config 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit code of an unknown key"
	assert_contains "valid keys are" "$out" "lists the valid keys"
}

test_unit_tests_under_valgrind() {
	make -s -C "$ECSYNC_TOP/tests/unit" valgrind
}
