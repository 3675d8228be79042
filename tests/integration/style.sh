# The sources in PostgreSQL's style (tests/integration/message_style.py says
# which rules): a primary message holds no hint or detail, a detail or hint
# is whole sentences.  No services are needed.

test_error_messages_keep_message_detail_and_hint_apart() {
	local out
	out=$(cd "$ECSYNC_TOP" && python3 tests/integration/message_style.py 2>&1) ||
		fail "messages against PostgreSQL's style:
$out"
}

# the checker finds each kind of fault in a file made to hold them (a
# checker that finds nothing would pass the test above for ever)
test_the_message_checker_finds_what_it_looks_for() {
	local dir out n
	dir=$(mktemp -d)
	cat >"$dir/bad.c" <<-'CEOF'
	static void f(void) {
		ereport(ERROR, (errmsg("table %s is gone Hint: register it", t)));
		ereport(ERROR, (errmsg("table %s is gone. Register it again", t)));
		ereport(ERROR, (errmsg("table %s is gone.", t)));
		ereport(ERROR, (errmsg("The table is gone")));
		ereport(ERROR, (errmsg("gone"), errhint("register it again")));
		ereport(ERROR, (errmsg("gone"), errdetail("It was dropped")));
		ereport(ERROR, (errmsg("run failed: %s", bc_error_text(edata))));
		ereport(ERROR, (errmsg("MySQL table %s is gone", t), errhint("Register it again.")));
	}
	CEOF
	out=$(cd "$ECSYNC_TOP" && python3 tests/integration/message_style.py "$dir/bad.c") && fail "the checker passed a file of faults"
	n=$(grep -c "bad.c:" <<<"$out")
	rm -rf "$dir"
	for what in "holds a hint or detail" "has a second sentence" "ends with a period" "starts with a capital" \
		"does not start with a capital" "does not end with a period" "flattened error text"; do
		assert_contains "$what" "$out" "the checker finds: $what"
	done
	assert_eq 8 "$n" "eight faults found (the lower-case hint twice), none in the good line: $out"
}
