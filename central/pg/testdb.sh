#!/usr/bin/env bash
# testdb.sh starts a throwaway PostgreSQL server from the Debian packages
# (postgresql, postgresql-15 on Debian 12) for the tests of central/pg, as a
# non-root user in a temporary directory, listening only on a unix socket.
#
#   central/pg/testdb.sh run -- COMMAND...   start, run COMMAND with KIPASS_PG_DSN set, stop
#   central/pg/testdb.sh start               start; print `export KIPASS_PG_DSN=...` and `export KIPASS_PG_DIR=...`
#   central/pg/testdb.sh stop DIR            stop the server started in DIR and remove DIR
#
# The server runs with fsync and synchronous_commit off (a test server);
# KIPASS_PG_DURABLE=1 keeps PostgreSQL's durable defaults, for benchmarks.
#
# When the PostgreSQL binaries are missing, `run` runs COMMAND without
# KIPASS_PG_DSN (the pg tests then skip, unless KIPASS_PG_REQUIRED is set)
# and `start` fails. Install them with: apt-get install postgresql
set -euo pipefail

pgbin() {
	local d
	for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	command -v initdb >/dev/null && command -v pg_ctl >/dev/null && dirname "$(command -v pg_ctl)" && return 0
	return 1
}

# as USER CMD...: run CMD as the server's owner (PostgreSQL refuses root).
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local bin dir
	bin=$(pgbin) || { echo "testdb.sh: PostgreSQL binaries not found (apt-get install postgresql)" >&2; return 1; }
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "testdb.sh: running as root needs the postgres user (created by the postgresql package)" >&2
		return 1
	fi
	dir=$(mktemp -d /tmp/kipass-pg.XXXXXX)
	chmod 755 "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; return 1; }
	local opts="-c listen_addresses='' -k $dir -c max_connections=100"
	[ -n "${KIPASS_PG_DURABLE:-}" ] || opts="$opts -c fsync=off -c synchronous_commit=off"
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null ||
		{ cat "$dir/server.log" >&2; return 1; }
	echo "export KIPASS_PG_DIR=$dir"
	echo "export KIPASS_PG_DSN='host=$dir user=postgres dbname=postgres sslmode=disable'"
}

stop() {
	local bin dir=$1
	bin=$(pgbin) || return 0
	[ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	case "$dir" in /tmp/kipass-pg.*) rm -rf "$dir" ;; esac
}

case "${1:-}" in
start) start ;;
stop) stop "${2:?usage: testdb.sh stop DIR}" ;;
run)
	shift
	[ "${1:-}" = "--" ] && shift
	if env=$(start); then
		eval "$env"
		trap 'stop "$KIPASS_PG_DIR"' EXIT
		echo "testdb.sh: PostgreSQL running in $KIPASS_PG_DIR" >&2
	else
		echo "testdb.sh: no PostgreSQL; running without KIPASS_PG_DSN" >&2
	fi
	"$@"
	;;
*)
	sed -n '2,16p' "$0" >&2
	exit 2
	;;
esac
