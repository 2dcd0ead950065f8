#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks, owned by the `postgres` user, listening on 127.0.0.1 only.
#   scripts/postgres-cluster.sh start DIR   creates DIR, initdb's a cluster in it, starts it on a free port, prints the port
#   scripts/postgres-cluster.sh stop DIR    stops that cluster and deletes DIR
#   scripts/postgres-cluster.sh stop-server DIR    stops the server (fast shutdown) and keeps the data, as in an outage
#   scripts/postgres-cluster.sh start-server DIR   starts it again with the same settings and port, prints the port
# Installs Debian's postgresql package first if no server binaries are found. Extra server settings can be passed
# in PG_OPTIONS (for example "-c max_connections=400").
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"
  elif [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"
  else sudo -u postgres -- "$@"; fi
}
bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

usage="usage: postgres-cluster.sh start|stop|stop-server|start-server DIR"
command="${1:?$usage}"
dir="${2:?$usage}"

case "$command" in
  start)
    if [ -z "$(bin_dir)" ] || [ ! -x "$(bin_dir)/initdb" ]; then
      echo "Installing postgresql from Debian..." >&2
      as_root apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
    fi
    bin="$(bin_dir)"
    mkdir -p "$dir"
    as_root chown postgres:postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
      port=$(( 20000 + RANDOM % 40000 ))
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue # taken
      options="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=500 ${PG_OPTIONS:-}"
      if as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$options" >/dev/null; then
        # Remembered for start-server, so a restarted server is found where clients left it.
        echo "$options" | as_postgres tee "$dir/server.options" >/dev/null
        echo "$port" | as_postgres tee "$dir/port" >/dev/null
        echo "$port"
        exit 0
      fi
    done
    echo "Could not start PostgreSQL; see $dir/server.log" >&2
    exit 1
    ;;
  stop)
    # Asked of pg_ctl as postgres: the data folder is private to that user, so the caller can't look into it.
    as_postgres "$(bin_dir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    as_root rm -rf "$dir"
    ;;
  stop-server)
    as_postgres "$(bin_dir)/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    ;;
  start-server)
    as_postgres "$(bin_dir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$(cat "$dir/server.options")" >/dev/null
    cat "$dir/port"
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
