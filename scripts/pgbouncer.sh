#!/usr/bin/env bash
# scripts/pgbouncer.sh DIR SERVER_URL: starts Debian's pgbouncer in transaction mode in front of the
# PostgreSQL server of SERVER_URL (trust authentication: its user, no password), every database
# name forwarded, on a free port of 127.0.0.1 that it prints; its config, log and pid file in DIR
# (`kill "$(cat DIR/pgbouncer.pid)"` stops it). As root it runs as the postgres user (pgbouncer
# refuses root). Used by .ci/run and the PgBouncer bench (bench/pgbouncer.ts); docs/OPERATING.md
# quotes its config.
set -euo pipefail
DIR=$1
read -r PG_USER PG_HOST PG_PORT < <(bun -e 'const u = new URL(process.argv[1]); console.log(decodeURIComponent(u.username) || "postgres", u.hostname, u.port || 5432)' "$2")
PORT=$(bun -e 'const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); console.log(s.port); s.stop(true)')
mkdir -p "$DIR"
# trust: no password checked; the user must still be listed.
echo "\"$PG_USER\" \"\"" >"$DIR/userlist.txt"
# max_client_conn: three replicas open 16 + 4 connections each, tests and benches a few more.
# default_pool_size: server connections per database and user; 20 keep one replica's pool busy.
# max_user_connections: server connections in all, the server's 100 less room for direct ones
# (LISTEN, the tests' own); at the cap an idle one of another database is closed. Idle ones close
# after server_idle_timeout, so the tests' many short-lived databases do not pile them up.
cat >"$DIR/pgbouncer.ini" <<INI
[databases]
* = host=$PG_HOST port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
max_user_connections = 60
server_idle_timeout = 10
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
INI
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$DIR"
  su postgres -c "pgbouncer -d $DIR/pgbouncer.ini"
else
  pgbouncer -d "$DIR/pgbouncer.ini"
fi
for _ in $(seq 50); do
  if bun -e "await Bun.connect({ hostname: '127.0.0.1', port: $PORT, socket: { data() {} } }).then((s) => s.end())" 2>/dev/null; then
    echo "$PORT"
    exit 0
  fi
  sleep 0.1
done
echo "pgbouncer did not start; its log:" >&2
cat "$DIR/pgbouncer.log" >&2
exit 1
