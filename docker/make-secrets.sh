#!/bin/sh
# make-secrets.sh writes the passwords docker-compose.yml hands its services
# as secrets, once: docker/secrets/{mysql_password,postgres_password,
# metabase_password,metabase_admin_password}, random.  The directory is root's alone (0700); the
# files inside are readable (0644) because compose mounts them into the
# containers as they are, where the services' own users must read them.
# Existing files are kept: delete one to change that password (and the
# volumes that hold it: docker-compose down -v).
set -eu
dir=$(cd "$(dirname "$0")" && pwd)/secrets
mkdir -p "$dir"
chmod 700 "$dir"
for name in mysql_password postgres_password metabase_password metabase_admin_password; do
	if [ ! -s "$dir/$name" ]; then
		head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$dir/$name"
		echo "make-secrets: wrote $dir/$name"
	fi
	chmod 644 "$dir/$name"
done
