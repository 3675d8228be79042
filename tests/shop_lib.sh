# shop_lib.sh: the sample shop in tests (sourced by tests/integration/*.sh):
# loading it into MariaDB, and comparing a PostgreSQL copy with MySQL row by
# row.

load_shop() {	# load_shop MYSQL_DB SCALE SEED
	"$ECSYNC_TOP/tests/harness/load-shop.sh" --stack "${ECSYNC_STACK:-test}" --database "$1" --scale "$2" --seed "$3"
}

# Canonical text of each shop table, the same on both sides, row by row.
my_dump() {	# my_dump DB TABLE
	local cols
	case $2 in
		users) cols="id, name, email, IFNULL(age,'-'), IFNULL(gender,'-'), IFNULL(occupation,'-'), DATE_FORMAT(created_at,'%Y-%m-%d %H:%i:%s'), DATE_FORMAT(updated_at,'%Y-%m-%d %H:%i:%s.%f')" ;;
		products) cols="id, name, category, price, stock, DATE_FORMAT(created_at,'%Y-%m-%d %H:%i:%s'), DATE_FORMAT(updated_at,'%Y-%m-%d %H:%i:%s.%f')" ;;
		sales) cols="id, user_id, DATE_FORMAT(sold_at,'%Y-%m-%d %H:%i:%s'), total, status, DATE_FORMAT(updated_at,'%Y-%m-%d %H:%i:%s.%f')" ;;
		sales_details) cols="id, sale_id, product_id, quantity, unit_price, DATE_FORMAT(updated_at,'%Y-%m-%d %H:%i:%s.%f')" ;;
	esac
	# raw: a backslash in a value is printed as it is, as psql prints it
	my_q "$1" -r -e "SET time_zone = '+00:00'; SELECT CONCAT_WS('|', $cols) FROM \`$2\` ORDER BY id"
}

pg_dump_table() {	# pg_dump_table SCHEMA TABLE
	local cols
	case $2 in
		users) cols="id, name, email, coalesce(age::text,'-'), coalesce(gender,'-'), coalesce(occupation,'-'), to_char(created_at,'YYYY-MM-DD HH24:MI:SS'), to_char(updated_at AT TIME ZONE 'UTC','YYYY-MM-DD HH24:MI:SS.US')" ;;
		products) cols="id, name, category, price, stock, to_char(created_at,'YYYY-MM-DD HH24:MI:SS'), to_char(updated_at AT TIME ZONE 'UTC','YYYY-MM-DD HH24:MI:SS.US')" ;;
		sales) cols="id, user_id, to_char(sold_at,'YYYY-MM-DD HH24:MI:SS'), total, status, to_char(updated_at AT TIME ZONE 'UTC','YYYY-MM-DD HH24:MI:SS.US')" ;;
		sales_details) cols="id, sale_id, product_id, quantity, unit_price, to_char(updated_at AT TIME ZONE 'UTC','YYYY-MM-DD HH24:MI:SS.US')" ;;
	esac
	psql_q -c "SELECT concat_ws('|', $cols) FROM $1.$2 ORDER BY id"
}

# assert_shop_equal MYDB PGSCHEMA: every row and column of the four tables
assert_shop_equal() {
	local t a b
	for t in users products sales sales_details; do
		a=$(my_dump "$1" $t | md5sum)
		b=$(pg_dump_table "$2" $t | md5sum)
		if [ "$a" != "$b" ]; then
			diff <(my_dump "$1" $t) <(pg_dump_table "$2" $t) | head -n 10 >&2
			fail "$2.$t differs from MySQL $1.$t"
		fi
		echo "$t: $(my_q "$1" -e "SELECT count(*) FROM $t") rows equal"
	done
}

# pg_db NAME: a fresh PostgreSQL database with ecsync and a source server
# "src" for MySQL database MYDB, used by psql_q from now on
pg_db() {
	local name=$1 mydb=$2
	psql_q -d ecsync -c "DROP DATABASE IF EXISTS $name WITH (FORCE)"
	psql_q -d ecsync -c "CREATE DATABASE $name"
	export PGDATABASE=$name PGTZ=UTC
	psql_q -c "CREATE EXTENSION ecsync"
	psql_q -c "CREATE SERVER src FOREIGN DATA WRAPPER ecsync_mysql
	           OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database '$mydb'${ECSYNC_MYSQL_SERVER_TLS:-})"
	user_mapping src
}

# user_mapping SERVER maps the current user to MySQL user ecsync; the
# password goes to psql on stdin, never on a command line
user_mapping() {
	psql_q <<-EOF
	CREATE USER MAPPING FOR CURRENT_USER SERVER $1
	  OPTIONS (user 'ecsync', password '$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")')
	EOF
}

# assert_wall_clock MYDB PGSCHEMA ZONE: the shop's DATETIME columns (wall
# clock times of ZONE, as MySQL wrote them) are the instants PostgreSQL
# holds, read back in ZONE; a zone lost or garbled on the way shifts them
assert_wall_clock() {
	local spec t c a b
	for spec in users:created_at products:created_at sales:sold_at; do
		t=${spec%%:*} c=${spec#*:}
		a=$(my_q "$1" -e "SELECT CONCAT(id, '|', DATE_FORMAT($c, '%Y-%m-%d %H:%i:%s')) FROM $t ORDER BY id")
		b=$(psql_q -c "SELECT concat(id, '|', to_char($c AT TIME ZONE '$3', 'YYYY-MM-DD HH24:MI:SS')) FROM $2.$t ORDER BY id")
		if [ "$a" != "$b" ]; then
			diff <(echo "$a") <(echo "$b") | head -n 6 >&2
			fail "$2.$t.$c is not MySQL $1's wall-clock time in $3"
		fi
		[ -n "$a" ] || fail "$1.$t is empty"
	done
	assert_eq "timestamp with time zone" \
		"$(psql_q -c "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = '$2.sales'::regclass AND attname = 'sold_at'")" \
		"$2.sales.sold_at's type"
}
