#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks, owned by the `postgres` user, listening on 127.0.0.1 only.
#   scripts/postgres-cluster.sh start DIR   creates DIR, initdb's a cluster in it, starts it on a free port, prints the port
#   scripts/postgres-cluster.sh stop DIR    stops that cluster and deletes DIR
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

command="${1:?usage: postgres-cluster.sh start|stop DIR}"
dir="${2:?usage: postgres-cluster.sh start|stop DIR}"

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
      if as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
          -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=500 ${PG_OPTIONS:-}" >/dev/null; then
        echo "$port"
        exit 0
      fi
    done
    echo "Could not start PostgreSQL; see $dir/server.log" >&2
    exit 1
    ;;
  stop)
    bin="$(bin_dir)"
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    fi
    as_root rm -rf "$dir"
    ;;
  *)
    echo "usage: postgres-cluster.sh start|stop DIR" >&2
    exit 2
    ;;
esac
