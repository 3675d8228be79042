#!/bin/sh
# metabase-setup (a one-shot service): points Metabase at PostgreSQL through
# Metabase's own API, once Metabase answers: on a new Metabase, its first
# admin ($METABASE_ADMIN_EMAIL, password: the secret
# metabase_admin_password) from the setup token; then, unless it is there,
# the database "ecsync shop" (host postgres, database ecsync, the read-only
# role metabase, password: the secret metabase_password), with Japanese as
# the site language and Asia/Tokyo as the report time zone.
# The JSON bodies go to curl on stdin, never on its command line.
# (Not run by the tests: Metabase's image needs Docker Hub.)
set -eu
say() { echo "metabase-setup: $*"; }
mb=${METABASE_URL:-http://metabase:3000}
email=${METABASE_ADMIN_EMAIL:-admin@shop.example}
admin_pw=$(cat /run/secrets/metabase_admin_password)
reader_pw=$(cat /run/secrets/metabase_password)
api() {	# api METHOD PATH [SESSION]: the body on stdin
	curl -sS --fail-with-body -X "$1" -H 'Content-Type: application/json' \
		${3:+-H "X-Metabase-Session: $3"} --data-binary @- "$mb$2"
}

say "waiting for Metabase at $mb"
i=0
until curl -sf "$mb/api/health" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 300 ] || { say "Metabase did not answer in 10 minutes"; exit 1; }
	sleep 2
done

token=$(curl -sf "$mb/api/session/properties" | jq -r '."setup-token" // empty')
has_user=$(curl -sf "$mb/api/session/properties" | jq -r '."has-user-setup"')
if [ "$has_user" != true ] && [ -n "$token" ]; then
	say "creating the first admin, $email"
	session=$(jq -n --arg t "$token" --arg e "$email" --arg p "$admin_pw" \
		'{token: $t, user: {first_name: "Shop", last_name: "Admin", email: $e, password: $p, site_name: "ecsync shop"},
		  prefs: {site_name: "ecsync shop", site_locale: "ja", allow_tracking: false}}' | api POST /api/setup | jq -r .id)
else
	session=$(jq -n --arg e "$email" --arg p "$admin_pw" '{username: $e, password: $p}' | api POST /api/session | jq -r .id)
fi
[ -n "$session" ] && [ "$session" != null ] || { say "no Metabase session"; exit 1; }

jq -n '{value: "Asia/Tokyo"}' | api PUT /api/setting/report-timezone "$session" >/dev/null || say "could not set the report time zone"
if printf '' | api GET /api/database "$session" | jq -e '.data // . | map(select(.name == "ecsync shop")) | length > 0' >/dev/null; then
	say "database \"ecsync shop\" is there already"
else
	say "adding PostgreSQL (database ecsync, user metabase) as \"ecsync shop\""
	jq -n --arg p "$reader_pw" '{engine: "postgres", name: "ecsync shop",
		details: {host: "postgres", port: 5432, dbname: "ecsync", user: "metabase", password: $p,
		          "schema-filters-type": "inclusion", "schema-filters-patterns": "analytics"}}' |
		api POST /api/database "$session" | jq -r '"metabase-setup: database id \(.id)"'
fi
