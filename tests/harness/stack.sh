#!/usr/bin/env bash
# stack.sh starts and stops ecsync's local service stack: a MariaDB server
# (or a real MySQL 9.x, for the stack named mysql9), a single-node Apache
# Kafka broker (KRaft) and PostgreSQL 15 with pg_cron and ecsync preloaded,
# all throwaway instances on 127.0.0.1 under one run directory (default
# <checkout>/.run/<name>, gitignored).
#
#   stack.sh start [NAME] [--fresh]   start (initialise on first use), print env
#   stack.sh stop [NAME]              stop everything NAME started
#   stack.sh status [NAME]            say what runs; exit 1 if not all of it
#   stack.sh env [NAME]               print the export lines of a running stack
#   stack.sh destroy [NAME]           stop and delete NAME's data
#   stack.sh replica start|stop [NAME]
#                                     a MySQL stack's replica (GTID
#                                     auto-position) at its MySQL port + 1;
#                                     start prints its export lines
#
# NAME is "demo" (make run), "test" (make check), "cassert" (make check's
# second pass, on a PostgreSQL built with assertions: PGBIN names its bin
# directory), "mysql9" (make check's third pass: MySQL 9.x from a Debian sid
# tree, tests/harness/mysql9.sh, instead of MariaDB; needs root; any name
# mysql9-* runs MySQL 9 too, on the ports of "anything else"), "bench"
# (make bench) or anything else; each name has its own ports and run
# directory, so a demo and a test run coexist.  Ports can be chosen with
# ECSYNC_PG_PORT, ECSYNC_MYSQL_PORT, ECSYNC_KAFKA_PORT (the Kafka controller
# uses ECSYNC_KAFKA_PORT+1).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

die() {
	echo "stack: $*" >&2
	exit 1
}
say() { echo "stack: $*" >&2; }
# elapsed T0 T1 prints T1 - T0 (seconds with fractions)
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

usage() {
	sed -n '2,25s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
action=
if [ "$cmd" = replica ]; then
	action=${1:-}
	case $action in start | stop) shift ;; *) usage ;; esac
fi
name=demo
fresh=0
for a in "$@"; do
	case $a in
		--fresh) fresh=1 ;;
		-*) usage ;;
		*) name=$a ;;
	esac
done
# Every port stays below 32768, where Linux's ephemeral ports begin: an
# outgoing connection may hold any port above that, and a listener cannot
# bind it then.
case $name in
	demo) offset=0 ;;
	test) offset=10000 ;;
	bench) offset=5000 ;;
	cassert) offset=7000 ;;
	mysql9) offset=9000 ;;
	*) offset=3000 ;;
esac
# Which server speaks MySQL's protocol: MariaDB from Debian 12, or for the
# mysql9 stack Oracle's MySQL 9.x (Debian sid's build, run chrooted).
case $name in
	mysql9 | mysql9-*) my_flavor=mysql my_label=MySQL ;;
	*) my_flavor=mariadb my_label=MariaDB ;;
esac
pg_port=${ECSYNC_PG_PORT:-$((15432 + offset))}
my_port=${ECSYNC_MYSQL_PORT:-$((13306 + offset))}
kafka_port=${ECSYNC_KAFKA_PORT:-$((19092 + offset))}
ctl_port=$((kafka_port + 1))
run=${ECSYNC_RUN_DIR:-$top/.run/$name}

# Who runs the services.  PostgreSQL refuses root, so as root it runs as
# postgres and MariaDB as mysql; as anyone else both run as that user.
if [ "$(id -u)" = 0 ]; then
	pg_user=postgres
	my_user=mysql
else
	pg_user=$(id -un)
	my_user=$pg_user
fi
as_user() {
	local u=$1
	shift
	if [ "$u" = "$(id -un)" ]; then "$@"; else runuser -u "$u" -- "$@"; fi
}

# service_dir NAME USER prints a directory for one service's data and logs,
# $run/NAME, owned by USER.  When USER cannot reach it (a checkout under
# /root, say) or a socket path would be too long, the directory lives under
# /tmp and $run/NAME is a symlink to it.
service_dir() {
	local svc=$1 user=$2 d=$run/$1
	if [ -L "$d" ]; then
		readlink "$d"
		return
	fi
	if [ ! -d "$d" ]; then
		mkdir -p "$d"
		[ "$user" = "$(id -un)" ] || chown "$user:" "$d"
		chmod 700 "$d"
	fi
	if as_user "$user" test -w "$d" && [ ${#d} -le 80 ]; then
		echo "$d"
		return
	fi
	rmdir "$d" 2>/dev/null || true
	local alt
	alt=/tmp/ecsync-$(id -u)-$name-$(echo "$run" | md5sum | cut -c1-8)/$svc
	mkdir -p "$alt"
	chmod 711 "$(dirname "$alt")"
	[ "$user" = "$(id -un)" ] || chown "$user:" "$alt"
	chmod 700 "$alt"
	ln -sfn "$alt" "$d"
	echo "$alt"
}

port_in_use() {
	ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

pid_alive() {
	[ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null
}

read_pid() {
	[ -f "$1" ] && head -n 1 "$1" 2>/dev/null || true
}

log_tail() {
	local label=$1 f=$2
	echo "---- last lines of $label ($f) ----" >&2
	tail -n 25 "$f" >&2 2>/dev/null || echo "(no log)" >&2
	echo "----" >&2
}

random_secret() {
	head -c 18 /dev/urandom | base64 | tr '+/' '-_'
}

# ---------------------------------------------------------------- PostgreSQL

pg_dir=
pg_paths() {
	pg_dir=$(service_dir pg "$pg_user")
	pg_data=$pg_dir/data
	pg_log=$pg_dir/postgresql.log
}

pg_pid() {
	[ -f "$pg_data/postmaster.pid" ] && head -n 1 "$pg_data/postmaster.pid" 2>/dev/null || true
}

pg_init() {
	[ -f "$pg_data/PG_VERSION" ] && return 0
	local pw pwfile
	pw=$(random_secret)
	pwfile=$pg_dir/.pwfile
	( umask 077; echo "$pw" >"$pwfile" )
	[ "$pg_user" = "$(id -un)" ] || chown "$pg_user:" "$pwfile"
	if ! as_user "$pg_user" "$PGBIN/initdb" -D "$pg_data" -U postgres \
		--pwfile="$pwfile" --auth-local=peer --auth-host=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 -N >"$pg_dir/initdb.log" 2>&1; then
		rm -f "$pwfile"
		log_tail initdb "$pg_dir/initdb.log"
		die "initdb failed"
	fi
	rm -f "$pwfile"
	# the launcher connects to ecsync.database at start: create it first
	echo "CREATE DATABASE ecsync" | as_user "$pg_user" "$PGBIN/postgres" --single \
		-D "$pg_data" postgres >>"$pg_dir/initdb.log" 2>&1 ||
		{ log_tail initdb "$pg_dir/initdb.log"; die "could not create database ecsync"; }
	cat >>"$pg_data/postgresql.conf" <<-EOF

	# ---- ecsync test stack ----
	listen_addresses = '127.0.0.1'
	unix_socket_directories = '$pg_dir'
	shared_preload_libraries = 'pg_cron,ecsync'
	cron.database_name = 'ecsync'
	cron.use_background_workers = on
	ecsync.database = 'ecsync'
	shared_buffers = 512MB
	max_wal_size = 4GB
	max_worker_processes = 32
	log_line_prefix = '%m [%p] %q%u@%d '
	EOF
	( umask 077; echo "127.0.0.1:*:*:postgres:$pw" >"$run/pgpass" )
}

pg_start() {
	as_user "$pg_user" "$PGBIN/pg_ctl" -D "$pg_data" -l "$pg_log" -W \
		-o "-p $pg_port" start >/dev/null
}

pg_ready() {
	"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -d ecsync -U postgres
}

pg_stop() {
	[ -n "$pg_dir" ] || return 0
	local pid
	pid=$(pg_pid)
	pid_alive "$pid" || return 0
	as_user "$pg_user" "$PGBIN/pg_ctl" -D "$pg_data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
		{ say "PostgreSQL did not stop in 60 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
}

# ------------------------------------------------------- MariaDB or MySQL 9

my_dir=
my_paths() {
	my_dir=$(service_dir mysql "$my_user")
	my_data=$my_dir/data
	my_sock=$my_dir/mysqld.sock
	my_log=$my_dir/error.log
	my_pidf=$my_dir/mysqld.pid
}

my_init() {
	if [ "$my_flavor" = mysql ]; then
		my9_init
		return
	fi
	[ -d "$my_data/mysql" ] && return 0
	if ! as_user "$my_user" mariadb-install-db --no-defaults --datadir="$my_data" \
		--auth-root-authentication-method=socket --skip-test-db \
		--skip-name-resolve >"$my_dir/install-db.log" 2>&1; then
		log_tail mariadb-install-db "$my_dir/install-db.log"
		die "mariadb-install-db failed"
	fi
	touch "$my_dir/.needs-setup"
}

# tls_init gives MariaDB a certificate for 127.0.0.1 and localhost, signed by
# a CA of this stack: the CA certificate (public) is in the PostgreSQL
# directory, where ecsync's workers can read it; the server's key is in
# MariaDB's.
tls_init() {
	[ -f "$my_dir/server-cert.pem" ] && [ -f "$pg_dir/mysql-ca.pem" ] && return 0
	local t
	t=$(mktemp -d)
	(
		cd "$t"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
			-subj "/CN=ecsync test CA" -keyout ca-key.pem -out ca.pem
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
			-days 3650 -extfile san.ext -out server-cert.pem
	) >"$run/tls.log" 2>&1 || { cat "$run/tls.log" >&2; rm -rf "$t"; die "could not make TLS certificates"; }
	install -m 600 "$t/server-key.pem" "$my_dir/server-key.pem"
	install -m 644 "$t/server-cert.pem" "$t/ca.pem" "$my_dir/"
	install -m 644 "$t/ca.pem" "$pg_dir/mysql-ca.pem"
	if [ "$(id -u)" = 0 ]; then
		chown "$my_user:" "$my_dir/server-key.pem" "$my_dir/server-cert.pem" "$my_dir/ca.pem"
		chown "$pg_user:" "$pg_dir/mysql-ca.pem"
	fi
	rm -rf "$t"
}

my_start() {
	# a pid file left by a killed server would look like a dead new one
	rm -f "$my_pidf"
	if [ "$my_flavor" = mysql ]; then
		my9_start
		return
	fi
	# Tuned for a throwaway instance: fast bulk loads (the loaders skip the
	# binary log), and a row-based binary log with full images and column
	# metadata for change capture (ecsync's CDC mode).  The server's time
	# zone is Japan's, as the shop's would be.
	as_user "$my_user" setsid mariadbd --no-defaults --datadir="$my_data" \
		--socket="$my_sock" --port="$my_port" --bind-address=127.0.0.1 \
		--pid-file="$my_pidf" --log-error="$my_log" --skip-name-resolve \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
		--default-time-zone=+09:00 --local-infile=1 --max-allowed-packet=256M \
		--innodb-buffer-pool-size=2G --innodb-log-file-size=1G \
		--innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
		--log-bin=binlog --server-id=1 --binlog-format=ROW --binlog-row-image=FULL \
		--binlog-row-metadata=FULL --max-binlog-size=256M --max-connections=200 \
		--ssl-ca="$my_dir/ca.pem" --ssl-cert="$my_dir/server-cert.pem" \
		--ssl-key="$my_dir/server-key.pem" </dev/null >/dev/null 2>&1 &
	echo $! >"$run/mysql.launch.pid"
}

my_pid() {
	local p
	p=$(read_pid "$my_pidf")
	[ -n "$p" ] || p=$(read_pid "$run/mysql.launch.pid")
	echo "$p"
}

my_ready() {
	mariadb-admin --no-defaults --socket="$my_sock" -uroot ping >/dev/null 2>&1
}

my_setup() {
	[ -f "$my_dir/.needs-setup" ] || return 0
	local pw
	pw=$(random_secret)
	# MySQL 9 has no mysql_native_password: its users get the default,
	# caching_sha2_password, which ecsync accepts over verified TLS only
	mariadb --no-defaults --socket="$my_sock" -uroot <<-EOF || die "$my_label setup failed"
	CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
	CREATE USER 'ecsync'@'127.0.0.1' IDENTIFIED BY '$pw';
	CREATE USER 'ecsync'@'localhost' IDENTIFIED BY '$pw';
	GRANT ALL PRIVILEGES ON *.* TO 'ecsync'@'127.0.0.1' WITH GRANT OPTION;
	GRANT ALL PRIVILEGES ON *.* TO 'ecsync'@'localhost' WITH GRANT OPTION;
	EOF
	( umask 077; echo "$pw" >"$run/mysql-password" )
	rm -f "$my_dir/.needs-setup"
}

my_stop() {
	[ -n "$my_dir" ] || return 0
	local pid
	pid=$(my_pid)
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_gone "$pid" 60 "$my_label"
}

# MySQL 9.x runs from the Debian sid tree mysql9.sh builds (its binaries
# need sid's C library), chrooted, as the host's $my_user.  The service
# directory is bind-mounted into the tree at its own path, so data, socket,
# log and certificates have the same names inside and out (and pgrep finds
# the server by its run directory).  That mount and the tree's /proc are
# made in a mount namespace of the server's own: they vanish when it exits,
# however it exits, and never show on the host.
m9_root=
my9_tree() {
	[ -n "$m9_root" ] && return 0
	[ "$(id -u)" = 0 ] || die "the mysql9 stack needs root (chroot, mount namespaces)"
	m9_root=$("$here/mysql9.sh") || die "could not build the MySQL 9 tree (tests/harness/mysql9.sh)"
}

# my9_conf writes the server's configuration, at each start (the port may
# have changed): the same tuning and change-capture settings as MariaDB's,
# plus MySQL's GTIDs
my9_conf() {
	mkdir -p "$my_dir/files"
	chmod 700 "$my_dir/files"
	cat >"$my_dir/my.cnf" <<-EOF
	[mysqld]
	datadir=$my_data
	socket=$my_sock
	port=$my_port
	bind-address=127.0.0.1
	pid-file=$my_pidf
	log-error=$my_log
	skip-name-resolve
	# no X Protocol listener (it would take port 33060 for every stack)
	mysqlx=OFF
	secure-file-priv=$my_dir/files
	character-set-server=utf8mb4
	default-time-zone=+09:00
	# MariaDB 10.11's default sql_mode, which a shop moved from MariaDB to
	# MySQL keeps: MySQL's own default (NO_ZERO_DATE, NO_ZERO_IN_DATE,
	# ONLY_FULL_GROUP_BY) refuses the zero dates such a shop's tables hold,
	# and the tests copy those tables with INSERT ... SELECT
	sql-mode=STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION
	local-infile=1
	max-allowed-packet=256M
	innodb-buffer-pool-size=2G
	innodb-redo-log-capacity=1G
	innodb-flush-log-at-trx-commit=2
	innodb-doublewrite=OFF
	log-bin=${my_log_bin:-binlog}
	server-id=${my_server_id:-1}
	binlog-format=ROW
	binlog-row-image=FULL
	binlog-row-metadata=FULL
	gtid-mode=ON
	enforce-gtid-consistency=ON
	max-binlog-size=256M
	max-connections=200
	ssl-ca=$my_dir/ca.pem
	ssl-cert=$my_dir/server-cert.pem
	ssl-key=$my_dir/server-key.pem
	EOF
	# the server appends to its log, which its launch opens first
	touch "$my_log"
	[ "$my_user" = "$(id -un)" ] || chown "$my_user:" "$my_dir/my.cnf" "$my_dir/files" "$my_log"
}

# my9_run ARG... becomes the tree's mysqld with the stack's configuration
# (exec all the way down, so run it in a subshell: its pid is mysqld's)
my9_run() {
	mkdir -p "$m9_root$my_dir"
	# shellcheck disable=SC2016
	exec setsid unshare --mount --propagation private -- sh -ec '
		mount --bind "$2" "$1$2"
		mount -t proc proc "$1/proc"
		r=$1 d=$2 u=$3
		shift 3
		exec chroot --userspec="$u" --groups="${u#*:}" "$r" /usr/sbin/mysqld --defaults-file="$d/my.cnf" "$@"' \
		sh "$m9_root" "$my_dir" "$(id -u "$my_user"):$(id -g "$my_user")" "$@"
}

my9_init() {
	my9_tree
	[ -f "$my_data/mysql.ibd" ] && return 0
	rm -rf "$my_data"
	# the configuration names the certificates: make them first
	tls_init
	my9_conf
	if ! (my9_run --initialize-insecure) >"$my_dir/install-db.log" 2>&1; then
		cat "$my_log" >>"$my_dir/install-db.log" 2>/dev/null || true
		log_tail "mysqld --initialize-insecure" "$my_dir/install-db.log"
		die "mysqld --initialize-insecure failed"
	fi
	touch "$my_dir/.needs-setup"
}

my9_start() {
	my9_tree
	my9_conf
	(my9_run) </dev/null >>"$my_log" 2>&1 &
	echo $! >"$run/mysql.launch.pid"
}

# ------------------------------------------------------------ MySQL replica

# A MySQL stack's replica: a second MySQL 9.x of the same tree, its own
# data, server_id 2 and binary log files (replica-bin.*), replicating the
# stack's server with GTID auto-positioning.  It is provisioned empty at
# the source's current GTID set (gtid_purged), so it replicates what comes
# after: the databases a test creates then.  Tests fail over to it.
replica_paths() {
	r_dir=$(service_dir mysql-replica "$my_user")
	r_port=$((my_port + 1))
}

# replica_as FUNCTION...: run a my9_* function with the replica's paths
replica_as() {
	(
		my_dir=$r_dir my_data=$r_dir/data my_sock=$r_dir/mysqld.sock my_log=$r_dir/error.log
		my_pidf=$r_dir/mysqld.pid my_port=$r_port my_server_id=2 my_log_bin=replica-bin
		"$@"
	)
}

replica_pid() { read_pid "$r_dir/mysqld.pid"; }
replica_ready() { mariadb-admin --no-defaults --socket="$r_dir/mysqld.sock" -uroot ping >/dev/null 2>&1; }
replica_sql() { mariadb --no-defaults --socket="$r_dir/mysqld.sock" -uroot -N -B "$@"; }
source_sql() { mariadb --no-defaults --socket="$my_sock" -uroot -N -B "$@"; }

replica_start() {
	[ "$my_flavor" = mysql ] || die "a replica is for MySQL stacks (mysql9, mysql9-*)"
	pid_alive "$(my_pid)" && my_ready || die "stack '$name' is not running: start it first"
	replica_paths
	if ! { pid_alive "$(replica_pid)" && replica_ready; }; then
		my9_tree
		port_in_use "$r_port" && die "port $r_port (the replica's) is in use"
		rm -rf "$r_dir/data"
		install -m 644 "$my_dir/ca.pem" "$my_dir/server-cert.pem" "$r_dir/"
		install -m 600 "$my_dir/server-key.pem" "$r_dir/"
		[ "$(id -u)" = 0 ] && chown "$my_user:" "$r_dir"/*.pem
		replica_as my9_conf
		if ! (replica_as my9_run --initialize-insecure) >"$r_dir/install-db.log" 2>&1; then
			log_tail "mysqld --initialize-insecure (replica)" "$r_dir/error.log"
			die "the replica's initialisation failed"
		fi
		rm -f "$r_dir/mysqld.pid"
		(replica_as my9_run) </dev/null >>"$r_dir/error.log" 2>&1 &
		echo $! >"$r_dir/launch.pid"
		# (not wait_ready: a replica that fails leaves the stack running)
		local i
		for ((i = 0; i < 600; i++)); do
			replica_ready && break
			[ $i -lt 10 ] || pid_alive "$(read_pid "$r_dir/launch.pid")" ||
				{ log_tail "MySQL replica" "$r_dir/error.log"; die "the replica exited during start-up"; }
			sleep 0.1
		done
		replica_ready || { log_tail "MySQL replica" "$r_dir/error.log"; replica_stop; die "the replica was not ready after 60 s"; }
		local pw executed
		pw=$(cat "$run/mysql-password")
		executed=$(source_sql -e "SELECT @@GLOBAL.gtid_executed" | tr -d '\n')
		# the account as the source's (not logged: it is no transaction
		# of the topology), then the source's history as already applied
		replica_sql <<-EOF || die "the replica's setup failed"
		SET sql_log_bin = 0;
		CREATE USER 'ecsync'@'127.0.0.1' IDENTIFIED BY '$pw';
		CREATE USER 'ecsync'@'localhost' IDENTIFIED BY '$pw';
		GRANT ALL PRIVILEGES ON *.* TO 'ecsync'@'127.0.0.1' WITH GRANT OPTION;
		GRANT ALL PRIVILEGES ON *.* TO 'ecsync'@'localhost' WITH GRANT OPTION;
		SET sql_log_bin = 1;
		RESET BINARY LOGS AND GTIDS;
		SET GLOBAL gtid_purged = '$executed';
		CHANGE REPLICATION SOURCE TO SOURCE_HOST = '127.0.0.1', SOURCE_PORT = $my_port,
		  SOURCE_USER = 'ecsync', SOURCE_PASSWORD = '$pw', SOURCE_AUTO_POSITION = 1,
		  SOURCE_SSL = 1, SOURCE_SSL_CA = '$r_dir/ca.pem', SOURCE_SSL_VERIFY_SERVER_CERT = 1;
		START REPLICA;
		EOF
		say "MySQL replica of stack '$name' ready on 127.0.0.1:$r_port (from $executed)"
	fi
	echo "export ECSYNC_MYSQL_REPLICA_PORT=$r_port"
	echo "export ECSYNC_MYSQL_REPLICA_SOCKET=$r_dir/mysqld.sock"
}

replica_stop() {
	[ -d "$run/mysql-replica" ] || return 0
	replica_paths
	local pid
	pid=$(replica_pid)
	[ -n "$pid" ] || pid=$(read_pid "$r_dir/launch.pid")
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_gone "$pid" 60 "MySQL replica"
}

# --------------------------------------------------------------------- Kafka

kafka_paths() {
	k_dir=$run/kafka
	k_data=$k_dir/data
	k_log=$k_dir/kafka.log
	k_pidf=$k_dir/kafka.pid
}

kafka_init() {
	mkdir -p "$k_dir"
	k_lib=$("$here/kafka-jars.sh") || die "could not get the Kafka broker jars"
	cat >"$k_dir/server.properties" <<-EOF
	process.roles=broker,controller
	node.id=1
	controller.quorum.voters=1@127.0.0.1:$ctl_port
	listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$ctl_port
	advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
	inter.broker.listener.name=PLAINTEXT
	controller.listener.names=CONTROLLER
	listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
	log.dirs=$k_data
	num.partitions=1
	auto.create.topics.enable=true
	offsets.topic.replication.factor=1
	offsets.topic.num.partitions=1
	transaction.state.log.replication.factor=1
	transaction.state.log.min.isr=1
	share.coordinator.state.topic.replication.factor=1
	share.coordinator.state.topic.min.isr=1
	group.initial.rebalance.delay.ms=0
	EOF
	cat >"$k_dir/log4j2.yaml" <<-'EOF'
	Configuration:
	  Appenders:
	    Console:
	      name: STDERR
	      target: SYSTEM_ERR
	      PatternLayout:
	        pattern: "[%d] %p %m (%c)%n"
	  Loggers:
	    Root:
	      level: WARN
	      AppenderRef:
	        - ref: STDERR
	    Logger:
	      - name: kafka.server.KafkaRaftServer
	        level: INFO
	EOF
	[ -f "$k_data/meta.properties" ] && return 0
	local cluster
	cluster=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | sed 's/^-/A/')
	java -cp "$k_lib/*" kafka.tools.StorageTool format -t "$cluster" \
		-c "$k_dir/server.properties" >"$k_dir/format.log" 2>&1 ||
		{ log_tail "kafka storage format" "$k_dir/format.log"; die "Kafka storage format failed"; }
}

kafka_start() {
	setsid java -Xms256m -Xmx1g -XX:+UseG1GC \
		-Dlog4j2.configurationFile="$k_dir/log4j2.yaml" \
		-Decsync.stack="$run" -cp "$k_lib/*" kafka.Kafka \
		"$k_dir/server.properties" </dev/null >>"$k_log" 2>&1 &
	echo $! >"$k_pidf"
}

kafka_ready() {
	kcat -b "127.0.0.1:$kafka_port" -L -m 2 2>/dev/null | grep -q '1 brokers:'
}

kafka_stop() {
	local pid
	pid=$(read_pid "$k_pidf")
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_gone "$pid" 60 Kafka
}

# ------------------------------------------------------------------- helpers

# check_ports SVC fails, before anything is started, when a port of the
# service (pg, my or kafka) is taken
check_ports() {
	local spec port label var specs=()
	case $1 in
		pg) specs=("$pg_port PostgreSQL ECSYNC_PG_PORT") ;;
		my) specs=("$my_port $my_label ECSYNC_MYSQL_PORT") ;;
		kafka) specs=("$kafka_port Kafka ECSYNC_KAFKA_PORT" "$ctl_port Kafka-controller ECSYNC_KAFKA_PORT") ;;
	esac
	for spec in "${specs[@]}"; do
		read -r port label var <<<"$spec"
		if port_in_use "$port"; then
			die "port $port ($label) is already in use; stop what holds it or set $var"
		fi
	done
}

wait_gone() {
	local pid=$1 secs=$2 label=$3 i
	for ((i = 0; i < secs * 10; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	say "$label (pid $pid) did not stop in $secs s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.2
}

# wait_ready LABEL PROBE PIDFN LOG SECS waits until PROBE succeeds; fails fast
# with the log tail when the process exits or SECS pass.
wait_ready() {
	local label=$1 probe=$2 pidfn=$3 log=$4 secs=$5 i pid
	for ((i = 0; i < secs * 10; i++)); do
		$probe && return 0
		pid=$($pidfn)
		if [ $i -gt 5 ] && ! pid_alive "$pid"; then
			$probe && return 0
			log_tail "$label" "$log"
			stop_all
			die "$label exited during start-up (see $log)"
		fi
		sleep 0.1
	done
	log_tail "$label" "$log"
	stop_all
	die "$label was not ready after $secs s (see $log)"
}

k_launch_pid() { read_pid "$k_pidf"; }

write_env() {
	# MySQL 9's caching_sha2_password sends the password at a connection's
	# first login: the clients verify the server's certificate.  ecsync
	# accepts that plugin only then (tests append ECSYNC_MYSQL_SERVER_TLS to
	# their servers' options).
	local server_tls=
	[ "$my_flavor" = mariadb ] || server_tls=", ssl_mode 'verify_identity', ssl_ca '$pg_dir/mysql-ca.pem'"
	mkdir -p "$run/mysql-client"
	( umask 077; cat >"$run/mysql-client/my.cnf" <<-EOF
	[client]
	host=127.0.0.1
	port=$my_port
	user=ecsync
	password=$(cat "$run/mysql-password")
	default-character-set=utf8mb4
	[mysql]
	database=shop
	local-infile=1
	EOF
	)
	if [ "$my_flavor" = mysql ]; then
		printf '[client]\nssl-ca=%s\nssl-verify-server-cert\n' "$pg_dir/mysql-ca.pem" >>"$run/mysql-client/my.cnf"
	fi
	( umask 077; cat >"$run/env" <<-EOF
	export ECSYNC_STACK=$name
	export ECSYNC_RUN_DIR=$run
	export ECSYNC_PGBIN=$PGBIN
	export PGHOST=127.0.0.1
	export PGPORT=$pg_port
	export PGUSER=postgres
	export PGDATABASE=ecsync
	export PGPASSFILE=$run/pgpass
	export MYSQL_HOME=$run/mysql-client
	export ECSYNC_MYSQL_HOST=127.0.0.1
	export ECSYNC_MYSQL_PORT=$my_port
	export ECSYNC_MYSQL_SOCKET=$my_sock
	export ECSYNC_MYSQL_DATABASE=shop
	export ECSYNC_MYSQL_USER=ecsync
	export ECSYNC_MYSQL_PASSWORD_FILE=$run/mysql-password
	export ECSYNC_MYSQL_SSL_CA=$pg_dir/mysql-ca.pem
	export ECSYNC_MYSQL_FLAVOR=$my_flavor
	export ECSYNC_MYSQL_SERVER_TLS="$server_tls"
	export ECSYNC_KAFKA_BROKERS=127.0.0.1:$kafka_port
	EOF
	)
}

# stop_all stops whatever this stack started, then anything still running
# from its run directory (a crashed start can leave such processes).
stop_all() {
	# PostgreSQL before Kafka: stream workers leave their groups while the
	# broker is still there
	replica_stop
	my_stop &
	local mp=$!
	pg_stop
	kafka_stop
	wait $mp 2>/dev/null || true
	local d
	for d in "$run" "$(readlink "$run/pg" 2>/dev/null || true)" "$(readlink "$run/mysql" 2>/dev/null || true)" \
		"$(readlink "$run/mysql-replica" 2>/dev/null || true)"; do
		[ -n "$d" ] || continue
		# "$d/": the run directory of stack mysql9 is a prefix of mysql9-x's
		if pgrep -f -- "$d/" >/dev/null 2>&1; then
			say "killing leftover processes of $d"
			pkill -KILL -f -- "$d/" 2>/dev/null || true
			sleep 0.3
		fi
	done
}

running_status() {
	local ok=0 pid
	pid=$(pg_pid)
	if pid_alive "$pid" && pg_ready; then echo "postgresql  up    127.0.0.1:$pg_port (pid $pid)"; else echo "postgresql  down"; ok=1; fi
	pid=$(my_pid)
	if pid_alive "$pid" && my_ready; then printf '%-11s up    127.0.0.1:%s (pid %s)\n' "$my_flavor" "$my_port" "$pid"; else printf '%-11s down\n' "$my_flavor"; ok=1; fi
	pid=$(read_pid "$k_pidf")
	if pid_alive "$pid" && kafka_ready; then echo "kafka       up    127.0.0.1:$kafka_port (pid $pid)"; else echo "kafka       down"; ok=1; fi
	return $ok
}

# --------------------------------------------------------------------- main

check_tools() {
	local missing=() t tools=(mariadbd mariadb-install-db)
	# MySQL 9 comes from mysql9.sh's tree; Debian 12's client talks to it
	[ "$my_flavor" = mariadb ] || tools=(debootstrap unshare chroot)
	for t in "$PGBIN/initdb" "$PGBIN/pg_ctl" "${tools[@]}" mariadb mariadb-admin java kcat ss openssl; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	local pkglib
	pkglib=$("$PGBIN/pg_config" --pkglibdir 2>/dev/null || echo "$PGBIN/../lib")
	[ -f "$pkglib/pg_cron.so" ] || missing+=(pg_cron)
	[ -f "$pkglib/ecsync.so" ] || missing+=("ecsync (run make install)")
	[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}; run tests/harness/install-deps.sh (make deps) and make install"
}

kafka_paths
if [ -d "$run" ] || [ "$cmd" = start ]; then
	mkdir -p "$run"
	chmod 755 "$run"
	pg_paths
	my_paths
fi

case $cmd in
	start)
		check_tools
		if [ $fresh = 1 ] && [ -d "$run" ]; then
			stop_all
			rm -rf "$(readlink "$run/pg" 2>/dev/null || echo /nonexistent)" \
				"$(readlink "$run/mysql" 2>/dev/null || echo /nonexistent)" \
				"$(readlink "$run/mysql-replica" 2>/dev/null || echo /nonexistent)" "$run"
			mkdir -p "$run"
			chmod 755 "$run"
			pg_paths
			my_paths
		fi
		# start only what is down: a test may have killed one service
		down=()
		pid_alive "$(pg_pid)" && pg_ready || down+=(pg)
		pid_alive "$(my_pid)" && my_ready || down+=(my)
		pid_alive "$(read_pid "$k_pidf")" && kafka_ready || down+=(kafka)
		if [ ${#down[@]} -eq 0 ]; then
			say "stack '$name' is already running"
			cat "$run/env"
			exit 0
		fi
		for svc in "${down[@]}"; do
			${svc}_stop
			check_ports "$svc"
		done
		t0=$(date +%s.%N)
		# initialise in parallel, then start in parallel
		kafka_init & ki=$!
		pg_init & pi=$!
		my_init
		wait $ki || die "Kafka initialisation failed"
		wait $pi || die "PostgreSQL initialisation failed"
		tls_init
		k_lib=$("$here/kafka-jars.sh")
		t1=$(date +%s.%N)
		for svc in "${down[@]}"; do
			case $svc in
				kafka) kafka_start ;;
				my) my_start ;;
				pg) pg_start || { log_tail PostgreSQL "$pg_log"; stop_all; die "PostgreSQL did not start"; } ;;
			esac
		done
		for svc in "${down[@]}"; do
			case $svc in
				pg) wait_ready PostgreSQL pg_ready pg_pid "$pg_log" 60 ;;
				my) wait_ready "$my_label" my_ready my_pid "$my_log" 60 ;;
				kafka) wait_ready Kafka kafka_ready k_launch_pid "$k_log" 90 ;;
			esac
		done
		my_setup
		write_env
		t2=$(date +%s.%N)
		say "$(printf "stack '%s' ready in %.1f s (init %.1f s, start-to-ready %.1f s); run dir %s" \
			"$name" "$(elapsed "$t0" "$t2")" "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" "$run")"
		say "connect with: eval \"\$(tests/harness/stack.sh env $name)\""
		cat "$run/env"
		;;
	stop)
		[ -d "$run" ] || { say "stack '$name' has no run directory; nothing to stop"; exit 0; }
		stop_all
		for p in $pg_port $my_port $kafka_port $ctl_port; do
			port_in_use "$p" && die "port $p is still in use after stop"
		done
		say "stack '$name' stopped"
		;;
	status)
		[ -d "$run" ] || { echo "stack '$name' is not initialised"; exit 1; }
		running_status
		;;
	env)
		[ -f "$run/env" ] || die "stack '$name' has never started; run: tests/harness/stack.sh start $name"
		cat "$run/env"
		;;
	replica)
		[ -d "$run" ] || die "stack '$name' has never started"
		case $action in
			start) replica_start ;;
			stop) replica_stop; say "the replica of stack '$name' stopped" ;;
		esac
		;;
	destroy)
		if [ -d "$run" ]; then
			stop_all
			rm -rf "$(readlink "$run/pg" 2>/dev/null || echo /nonexistent)" \
				"$(readlink "$run/mysql" 2>/dev/null || echo /nonexistent)" \
				"$(readlink "$run/mysql-replica" 2>/dev/null || echo /nonexistent)" "$run"
		fi
		say "stack '$name' destroyed"
		;;
	*) usage ;;
esac
