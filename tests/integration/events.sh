# The page-view producer against the real Kafka broker.

pvproduce=$ECSYNC_TOP/tests/gen/pvproduce

# consume TOPIC COUNT prints COUNT messages of TOPIC as "key<TAB>value" lines
consume() {
	kcat -b "$ECSYNC_KAFKA_BROKERS" -C -t "$1" -o beginning -c "$2" -e -q \
		-f '%k\t%s\n'
}

test_events_read_back_byte_for_byte() {
	local dir topic=rt_$RANDOM$RANDOM
	dir=$(mktemp -d)
	"$pvproduce" -t "$topic" -n 500 --scale 0.01 --start-ms 1795791600000 \
		--echo "$dir/sent" -q
	consume "$topic" 500 >"$dir/read"
	assert_eq 500 "$(wc -l <"$dir/read")" "events read back"
	cmp "$dir/sent" "$dir/read" || fail "events read back differ from those sent"
	# the event shape of docs/design.md ("The data"), keyed by user_id
	assert_match '^([0-9]+)	\{"user_id":\1,"age":[0-9]+,"gender":"(female|male|other)","occupation":"[^"]+","page":"/[^"]*","viewed_at":"2026-11-28T00:00:00\.000\+09:00"\}$' \
		"$(head -n 1 "$dir/read")" "first event's shape"
	rm -rf "$dir"
}

test_events_match_the_users_table() {
	local dir topic=users_$RANDOM$RANDOM db=shop_events
	dir=$(mktemp -d)
	"$ECSYNC_TOP/tests/harness/load-shop.sh" --stack "${ECSYNC_STACK:-test}" --database "$db" --scale 0.01 --seed 5
	"$pvproduce" -t "$topic" -n 2000 --scale 0.01 --seed 5 -q
	consume "$topic" 2000 | cut -f2 >"$dir/events.json"
	assert_eq 2000 "$(wc -l <"$dir/events.json")" "events consumed"
	my_q --local-infile=1 "$db" -e "
		CREATE TABLE ev (j JSON);
		LOAD DATA LOCAL INFILE '$dir/events.json' INTO TABLE ev
		  FIELDS TERMINATED BY '\0' ESCAPED BY '' LINES TERMINATED BY '\n'"
	assert_eq 2000 "$(my_q "$db" -e "SELECT count(*) FROM ev e JOIN users u
		ON u.id = JSON_VALUE(e.j, '$.user_id')
		AND u.age = JSON_VALUE(e.j, '$.age')
		AND u.gender = JSON_VALUE(e.j, '$.gender')
		AND u.occupation = JSON_VALUE(e.j, '$.occupation')")" \
		"events whose user attributes match the users table"
	# realistic pages: every kind of shop page appears
	local kinds
	kinds=$(grep -o '"page":"[^"]*"' "$dir/events.json" |
		sed -E 's/"page":"//; s/"$//; s/[?].*//; s:/[0-9]+$::; s:^/category/.*:/category:' | sort -u | tr '\n' ' ')
	assert_eq "/ /cart /category /checkout /checkout/complete /mypage /products /search " "$kinds" "page kinds"
	rm -rf "$dir"
}

test_events_keyed_by_user_land_in_one_partition() {
	local topic=keyed_$RANDOM$RANDOM split
	"$pvproduce" -t "$topic" --partitions 4 -n 2000 -q
	assert_eq 4 "$(kcat -b "$ECSYNC_KAFKA_BROKERS" -L -t "$topic" | grep -c 'partition [0-9]')" "partitions of the created topic"
	kcat -b "$ECSYNC_KAFKA_BROKERS" -C -t "$topic" -o beginning -c 2000 -e -q -f '%k %p\n' >"$ECSYNC_RUN_DIR/keyed.txt"
	assert_eq 2000 "$(wc -l <"$ECSYNC_RUN_DIR/keyed.txt")" "events read back"
	split=$(sort -u "$ECSYNC_RUN_DIR/keyed.txt" | awk '{print $1}' | uniq -d | wc -l)
	assert_eq 0 "$split" "users whose events went to more than one partition"
	assert_eq 4 "$(awk '{print $2}' "$ECSYNC_RUN_DIR/keyed.txt" | sort -u | wc -l)" "partitions used"
}

test_steady_rate_is_honoured() {
	local topic=rate_$RANDOM$RANDOM t0 t1 ms
	t0=$(date +%s%N)
	"$pvproduce" -t "$topic" -n 600 -r 300 -q
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	# 600 events at 300/s take about 2 s (plus connection set-up)
	[ "$ms" -ge 1900 ] || fail "600 events at 300/s took only $ms ms"
	[ "$ms" -le 6000 ] || fail "600 events at 300/s took $ms ms"
	assert_eq 600 "$(kcat -b "$ECSYNC_KAFKA_BROKERS" -C -t "$topic" -o beginning -c 600 -e -q -f '%o\n' | wc -l)" "events at a steady rate"
}
