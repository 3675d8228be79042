# The decoding pipeline (common/event_pipe.c) against the real broker, built
# with ASan and UBSan: partition queues forwarded to one queue, one or three
# decoding threads, and a re-assignment half-way.  Every offset must come
# out exactly once and in order (tests/unit/test_event_pipe.c checks).

pipe_run() {	# pipe_run THREADS
	local topic=pipe_$1_$RANDOM$RANDOM
	make -s -C "$ECSYNC_TOP/tests/unit" test_event_pipe-san >/dev/null
	"$ECSYNC_TOP/tests/gen/pvproduce" -t "$topic" --partitions 4 -n 50000 -q
	"$ECSYNC_TOP/tests/unit/test_event_pipe-san" "$ECSYNC_KAFKA_BROKERS" "$topic" 4 50000 "$1"
}

test_pipeline_with_three_decoding_threads_keeps_order_across_a_reassignment() {
	pipe_run 3
}

test_pipeline_with_one_decoding_thread_keeps_order_across_a_reassignment() {
	pipe_run 1
}
