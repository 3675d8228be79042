# libFuzzer targets (tests/fuzz), each run for a bounded time from its seed
# corpus: any crash, leak, undefined behaviour or timeout fails the test.

FUZZ_SECONDS=${ECSYNC_FUZZ_SECONDS:-20}

# run_fuzzer TARGET: build it, run it on a copy of its corpus
run_fuzzer() {
	local target=$1 dir out
	make -s -C "$ECSYNC_TOP/tests/fuzz" "$target" >/dev/null
	dir=$(mktemp -d)
	cp "$ECSYNC_TOP/tests/fuzz/corpus/${target#fuzz_}/"* "$dir/"
	out=$("$ECSYNC_TOP/tests/fuzz/$target" -max_total_time="$FUZZ_SECONDS" -timeout=5 \
		-artifact_prefix="$ECSYNC_RUN_DIR/$target-" "$dir" 2>&1) ||
		{ echo "$out" | tail -n 40; rm -rf "$dir"; fail "$target found a problem (input saved under $ECSYNC_RUN_DIR)"; }
	rm -rf "$dir"
	echo "$out" | tail -n 1
	# it must really have run
	[[ $(echo "$out" | tail -n 1) =~ ^Done\ ([0-9]+)\ runs ]] && [ "${BASH_REMATCH[1]}" -ge 10000 ] ||
		fail "$target ran too few inputs"
}

test_event_decoder_survives_fuzzing() {
	run_fuzzer fuzz_event_decode
}

test_csv_writer_survives_fuzzing() {
	run_fuzzer fuzz_csv_write
}

test_csv_to_copy_converter_survives_fuzzing() {
	run_fuzzer fuzz_csv_to_copy
}

test_binlog_decoder_survives_fuzzing() {
	run_fuzzer fuzz_binlog_rows
}

test_mysql_json_decoder_survives_fuzzing() {
	run_fuzzer fuzz_mysql_json
}

test_mysql_gtid_decoder_survives_fuzzing() {
	run_fuzzer fuzz_mysql_gtid
}

test_binary_protocol_values_encode_as_their_text_does() {
	run_fuzzer fuzz_copy_typed
}
