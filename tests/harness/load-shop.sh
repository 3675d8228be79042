#!/usr/bin/env bash
# load-shop.sh generates the sample shop at a scale and bulk-loads it into
# the running stack's MariaDB (database shop, or $ECSYNC_MYSQL_DATABASE).
#
#   tests/harness/load-shop.sh [--scale S] [--seed N] [--stack NAME] [--database DB]
#
# Generated files are cached in <run dir>/shop-<scale>-<seed>/ and reused by
# benchmarks (they are COPY text format as well).
set -euo pipefail

# elapsed T0 T1 prints T1 - T0 (seconds with fractions)
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
scale=0.01
seed=1
stack=${ECSYNC_STACK:-demo}
db=
while [ $# -gt 0 ]; do
	case $1 in
		--scale) scale=$2; shift 2 ;;
		--seed) seed=$2; shift 2 ;;
		--stack) stack=$2; shift 2 ;;
		--database) db=$2; shift 2 ;;
		*) echo "usage: load-shop.sh [--scale S] [--seed N] [--stack NAME] [--database DB]" >&2; exit 2 ;;
	esac
done
eval "$("$here/stack.sh" env "$stack")"
db=${db:-${ECSYNC_MYSQL_DATABASE:-shop}}
mariadb -e "CREATE DATABASE IF NOT EXISTS \`$db\`"

gen=$top/tests/gen/shopgen
[ -x "$gen" ] || make -s -C "$top/tests/gen" shopgen
dir=$ECSYNC_RUN_DIR/shop-$scale-$seed
t0=$(date +%s.%N)
if [ ! -f "$dir/sales_details.tsv" ]; then
	"$gen" --scale "$scale" --seed "$seed" --out "$dir"
fi

my() { mariadb --local-infile=1 "$db" "$@"; }
my <"$top/tests/gen/shop_schema.sql"

load() {
	local t=$1 f
	f=$dir/$t.tsv
	# one transaction per table, no unique checks during the load
	my -e "SET unique_checks=0; SET foreign_key_checks=0; SET sql_log_bin=0;
		LOAD DATA LOCAL INFILE '$f' INTO TABLE \`$t\` CHARACTER SET utf8mb4
		FIELDS TERMINATED BY '\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\n';"
}
# two loaders at once: one per core
load sales_details & p1=$!
load sales & p2=$!
load users
load products
wait $p1 || { echo "load-shop: loading sales_details failed" >&2; exit 1; }
wait $p2 || { echo "load-shop: loading sales failed" >&2; exit 1; }
my <"$top/tests/gen/shop_indexes.sql"
my -e "ANALYZE TABLE users, products, sales, sales_details" >/dev/null
t1=$(date +%s.%N)
counts=$(my -N -e "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM products),
	(SELECT count(*) FROM sales), (SELECT count(*) FROM sales_details)")
read -r u p s d <<<"$counts"
printf 'load-shop: %s.{users,products,sales,sales_details} = %s, %s, %s, %s rows (scale %s, seed %s) in %.1f s\n' \
	"$db" "$u" "$p" "$s" "$d" "$scale" "$seed" "$(elapsed "$t0" "$t1")" >&2
