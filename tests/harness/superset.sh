#!/usr/bin/env bash
# superset.sh installs Apache Superset (a BI web application that queries
# PostgreSQL in place) once, and starts and stops one Superset per test
# stack, for the bi test group (tests/integration/bi.sh).
#
#   superset.sh install         the virtual environment, once:
#                               ~/.cache/ecsync/superset-<version>/, every
#                               package pinned by superset-constraints.txt
#   superset.sh start [NAME]    a Superset for stack NAME (default test) on
#                               127.0.0.1, port: the stack's PostgreSQL
#                               port + 7; prints its export lines
#   superset.sh stop [NAME]     stop it; nothing of it is left running
#   superset.sh env [NAME]      the export lines of a running one
#
# The stack must run (stack.sh start NAME; the ECSYNC_*_PORT variables as
# for stack.sh).  Superset's metadata database is SQLite, in the stack's run
# directory (<run>/superset/superset.db), made anew by every start from a
# template the install step prepares; its admin is "admin", with a random
# password in <run>/superset/admin-password.  Superset runs as the user who
# calls this (root is fine: Superset does not refuse it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
version=6.1.0
constraints=$here/superset-constraints.txt
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ecsync/superset-$version
venv=$cache/venv
# Debian's python3 (python3-venv), not whatever python3 comes first on PATH
python=${ECSYNC_SUPERSET_BASE_PYTHON:-/usr/bin/python3}

die() {
	echo "superset: $*" >&2
	exit 1
}
say() { echo "superset: $*" >&2; }

usage() {
	sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

# the configuration every Superset of ours reads (SUPERSET_CONFIG_PATH):
# its secret key and its metadata database come from the environment
write_config() {
	cat >"$1" <<-'EOF'
	# written by tests/harness/superset.sh
	import os
	SECRET_KEY = os.environ["ECSYNC_SUPERSET_SECRET_KEY"]
	SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.environ["ECSYNC_SUPERSET_DB"]
	# the security REST API (roles, users), for the test's read-only user
	FAB_ADD_SECURITY_API = True
	# no example data, no telemetry, no cache server
	SUPERSET_LOAD_EXAMPLES = False
	SCARF_ANALYTICS = False
	CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
	DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
	THUMBNAIL_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
	# the test's browser may log in over plain HTTP on 127.0.0.1
	SESSION_COOKIE_SECURE = False
	TALISMAN_ENABLED = False
	EOF
}

# superset ARGS...: the CLI with the configuration of $cfg_dir
superset_cli() {
	SUPERSET_CONFIG_PATH=$cfg_dir/superset_config.py \
		ECSYNC_SUPERSET_SECRET_KEY=$secret ECSYNC_SUPERSET_DB=$db \
		FLASK_APP=superset "$venv/bin/superset" "$@"
}

install() {
	local stamp want
	want=$(cat "$constraints" | md5sum | cut -c1-32)
	stamp=$cache/installed
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/superset" ] &&
		[ -f "$cache/template.db" ]; then
		return 0
	fi
	say "installing Apache Superset $version into $venv (about two minutes, once)"
	[ -x "$python" ] || die "$python is missing (Debian's python3 and python3-venv)"
	rm -rf "$cache"
	mkdir -p "$cache"
	"$python" -m venv "$venv" || die "$python -m venv failed (is python3-venv installed?)"
	"$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" pip ||
		die "pip could not be updated"
	# apache-superset's own ranges let in Flask-Caching 2.5 (its CLI fails:
	# ignore_delete_many_errors) and leave out rich (the CLI imports it) and
	# cachetools (every database driver's spec imports it: without it each
	# connection test answers "Connection failed"); the constraints file
	# pins every package, those three among them
	"$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" \
		"apache-superset==$version" psycopg2-binary Flask-Caching rich cachetools ||
		die "pip install apache-superset==$version failed"
	# the metadata database's schema and Superset's roles, once: every start
	# copies this template instead of migrating a new database (about 40 s)
	cfg_dir=$cache
	write_config "$cfg_dir/superset_config.py"
	secret=template-only-no-secrets-in-it
	db=$cache/template.db.new
	rm -f "$db"
	superset_cli db upgrade >"$cache/template.log" 2>&1 || { tail -n 20 "$cache/template.log" >&2; die "superset db upgrade failed"; }
	superset_cli init >>"$cache/template.log" 2>&1 || { tail -n 20 "$cache/template.log" >&2; die "superset init failed"; }
	mv "$db" "$cache/template.db"
	echo "$want" >"$stamp"
	say "installed"
}

# the stack's settings: its run directory and PostgreSQL port
stack_settings() {
	local env
	env=$("$here/stack.sh" env "$name" 2>/dev/null) || die "stack $name does not run (stack.sh start $name)"
	run=$(sed -n 's/^export ECSYNC_RUN_DIR=//p' <<<"$env")
	pgport=$(sed -n 's/^export PGPORT=//p' <<<"$env")
	[ -n "$run" ] && [ -n "$pgport" ] || die "no run directory or port for stack $name"
	port=$((pgport + 7))
	dir=$run/superset
	cfg_dir=$dir
	db=$dir/superset.db
	pidf=$dir/superset.pid
	log=$dir/superset.log
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
port_in_use() { ss -Htln "sport = :$1" | grep -q .; }
healthy() { curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; }

print_env() {
	cat <<-EOF
	export ECSYNC_SUPERSET_URL=http://127.0.0.1:$port
	export ECSYNC_SUPERSET_DIR=$dir
	export ECSYNC_SUPERSET_ADMIN=admin
	export ECSYNC_SUPERSET_ADMIN_PASSWORD_FILE=$dir/admin-password
	export ECSYNC_SUPERSET_PYTHON=$venv/bin/python
	EOF
}

start() {
	install
	stack_settings
	if [ -f "$pidf" ] && pid_alive "$(cat "$pidf")" && healthy; then
		print_env
		return 0
	fi
	stop_quiet
	port_in_use "$port" && die "port $port is in use by something else"
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 700 "$dir"
	write_config "$dir/superset_config.py"
	( umask 077
	  head -c 32 /dev/urandom | base64 | tr -d '\n' >"$dir/secret-key"
	  head -c 18 /dev/urandom | base64 | tr '+/' 'xy' | tr -d '\n' >"$dir/admin-password" )
	secret=$(cat "$dir/secret-key")
	cp "$cache/template.db" "$db"
	local t0 i
	t0=$(date +%s)
	superset_cli fab create-admin --username admin --firstname Ecsync --lastname Admin \
		--email admin@shop.example --password "$(cat "$dir/admin-password")" >"$dir/create-admin.log" 2>&1 ||
		{ tail -n 20 "$dir/create-admin.log" >&2; die "superset fab create-admin failed"; }
	# its own session and process group: stop ends it and every child
	setsid env SUPERSET_CONFIG_PATH="$dir/superset_config.py" ECSYNC_SUPERSET_SECRET_KEY="$secret" \
		ECSYNC_SUPERSET_DB="$db" FLASK_APP=superset \
		"$venv/bin/superset" run -h 127.0.0.1 -p "$port" --with-threads >"$log" 2>&1 </dev/null &
	echo $! >"$pidf"
	for ((i = 0; i < 600; i++)); do
		healthy && break
		pid_alive "$(cat "$pidf")" || { tail -n 20 "$log" >&2; die "Superset exited at start (see $log)"; }
		sleep 0.2
	done
	healthy || { tail -n 20 "$log" >&2; die "Superset did not answer /health in 120 s (see $log)"; }
	say "Superset $version on http://127.0.0.1:$port in $(($(date +%s) - t0)) s"
	print_env
}

# stop_quiet: the process group of the recorded pid, then anything that
# still runs with this stack's configuration (a crashed start)
stop_quiet() {
	local pid i p
	pid=$(cat "$pidf" 2>/dev/null || true)
	if pid_alive "$pid"; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			pid_alive "$pid" || break
			sleep 0.2
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	for p in $(pgrep -f -- "$dir/superset_config.py" 2>/dev/null || true); do
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in $(pgrep -f -- "superset run -h 127.0.0.1 -p $port" 2>/dev/null || true); do
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -f "$pidf"
}

stop() {
	stack_settings_offline
	stop_quiet
	for ((i = 0; i < 50; i++)); do
		port_in_use "$port" || return 0
		sleep 0.2
	done
	die "port $port still listening after stop"
}

# stop works when the stack is already down: its run directory and port
# come from the same rules stack.sh uses
stack_settings_offline() {
	if "$here/stack.sh" env "$name" >/dev/null 2>&1; then
		stack_settings
		return
	fi
	local offset
	case $name in demo) offset=0 ;; test) offset=10000 ;; bench) offset=5000 ;; cassert) offset=7000 ;;
		mysql9) offset=9000 ;; *) offset=3000 ;; esac
	run=${ECSYNC_RUN_DIR:-$top/.run/$name}
	pgport=${ECSYNC_PG_PORT:-$((15432 + offset))}
	port=$((pgport + 7))
	dir=$run/superset
	pidf=$dir/superset.pid
}

cmd=${1:-}
name=${2:-test}
case $cmd in
	install) install ;;
	start) start ;;
	stop) stop ;;
	env) stack_settings; healthy || die "no Superset answers on port $port"; print_env ;;
	*) usage ;;
esac
