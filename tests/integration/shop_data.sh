# The sample shop generator and loader, checked in the real MariaDB.

shopgen=$ECSYNC_TOP/tests/gen/shopgen

# check_shop DB SCALE SEED loads the shop into DB and checks it
check_shop() {
	local db=$1 scale=$2 seed=$3 t
	"$ECSYNC_TOP/tests/harness/load-shop.sh" --stack "${ECSYNC_STACK:-test}" --database "$db" --scale "$scale" --seed "$seed"

	# counts: what shopgen --sizes promises, and 3 lines per sale
	while read -r t n; do
		assert_eq "$n" "$(my_q "$db" -e "SELECT count(*) FROM \`$t\`")" "$db.$t rows at scale $scale"
	done < <("$shopgen" --scale "$scale" --sizes)
	assert_eq "$(my_q "$db" -e 'SELECT 3 * count(*) FROM sales')" \
		"$(my_q "$db" -e 'SELECT count(*) FROM sales_details')" "3 lines per sale on average"

	# referential consistency
	assert_eq 0 "$(my_q "$db" -e 'SELECT count(*) FROM sales s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL')" "sales without a user"
	assert_eq 0 "$(my_q "$db" -e 'SELECT count(*) FROM sales_details d LEFT JOIN sales s ON s.id = d.sale_id WHERE s.id IS NULL')" "lines without a sale"
	assert_eq 0 "$(my_q "$db" -e 'SELECT count(*) FROM sales_details d LEFT JOIN products p ON p.id = d.product_id WHERE p.id IS NULL')" "lines without a product"
	assert_eq 0 "$(my_q "$db" -e 'SELECT count(*) FROM sales s LEFT JOIN sales_details d ON d.sale_id = s.id WHERE d.id IS NULL')" "sales without lines"

	# totals agree with their lines; lines carry the product's price
	assert_eq 0 "$(my_q "$db" -e 'SELECT count(*) FROM sales s JOIN (SELECT sale_id, sum(quantity * unit_price) AS t FROM sales_details GROUP BY sale_id) d ON d.sale_id = s.id WHERE d.t <> s.total')" "sales whose total differs from their lines"
	assert_eq 0 "$(my_q "$db" -e 'SELECT count(*) FROM sales_details d JOIN products p ON p.id = d.product_id WHERE d.unit_price <> p.price')" "lines priced differently from the product"

	# time order: nothing updated before it was created or sold
	assert_eq 0 "$(my_q "$db" -e 'SELECT (SELECT count(*) FROM users WHERE updated_at < created_at) + (SELECT count(*) FROM products WHERE updated_at < created_at) + (SELECT count(*) FROM sales WHERE updated_at < sold_at)')" "rows updated before they were created"
	assert_eq 0 "$(my_q "$db" -e 'SELECT count(*) FROM sales s JOIN users u ON u.id = s.user_id WHERE s.sold_at < u.created_at - INTERVAL 1 HOUR')" "sales before the buyer signed up"

	# realistic values: ages, all three genders, Japanese text survives
	assert_eq "1 1" "$(my_q "$db" -e 'SELECT min(age) >= 15, max(age) <= 79 FROM users' | tr '\t' ' ')" "ages within 15..79"
	if [ "$(my_q "$db" -e 'SELECT count(*) FROM users')" -ge 1000 ]; then
		assert_eq 3 "$(my_q "$db" -e 'SELECT count(DISTINCT gender) FROM users')" "genders"
		assert_eq 12 "$(my_q "$db" -e 'SELECT count(DISTINCT category) FROM products')" "stationery categories"
	fi
	assert_eq 0 "$(my_q "$db" -e "SELECT count(*) FROM users WHERE char_length(name) = length(name)")" "user names in Japanese (multi-byte)"
	assert_eq 1 "$(my_q "$db" -e "SELECT count(*) > 0 FROM users WHERE occupation = '学生'")" "students among users"
}

test_generator_counts_and_consistency_small() {
	check_shop shop_small 0.001 7
}

test_generator_counts_and_consistency_demo_scale() {
	check_shop shop_demo 0.05 1
}

test_generator_is_deterministic() {
	local a b
	a=$(mktemp -d)
	b=$(mktemp -d)
	"$shopgen" --scale 0.002 --seed 3 --out "$a" 2>/dev/null
	"$shopgen" --scale 0.002 --seed 3 --out "$b" 2>/dev/null
	for t in users products sales sales_details; do
		cmp "$a/$t.tsv" "$b/$t.tsv" || fail "$t differs between two runs with one seed"
	done
	"$shopgen" --scale 0.002 --seed 4 --out "$b" 2>/dev/null
	! cmp -s "$a/users.tsv" "$b/users.tsv" || fail "another seed gave the same users"
	rm -rf "$a" "$b"
}

test_generator_rejects_bad_options() {
	local out rc=0
	out=$("$shopgen" --scale -1 --out /tmp/x 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit code for a negative scale"
	assert_contains "--scale must be" "$out" "message for a negative scale"
}
