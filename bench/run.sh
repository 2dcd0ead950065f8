#!/usr/bin/env bash
# The benchmarks, in one command, on this machine:
#   bench/run.sh           the full run (about 35 minutes): writes docs/benchmarks.md and docs/benchmarks.png
#   bench/run.sh --quick   a shorter run of the same (under 8 minutes): writes artifacts/bench/report/
#   bench/run.sh --prepare the seeded databases only, left running, with the settings to start the service and load it by hand
# Both runs print one line per figure, `ratio NAME VALUE` or `figure NAME VALUE UNIT`, at the end.
# Installs what is missing from Debian (postgresql, wrk, gnuplot-nox), builds the service in Release, starts a throwaway
# PostgreSQL on loopback (removed afterwards); the driver (bench/Bench) does the rest, including `npm ci` of the better-auth
# peer (bench/peers/better-auth) when its lock file changed since the last install. The method is in bench/method.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

mode=""
output="$root/docs"
case "${1:-}" in
  --quick) mode="--quick"; output="$root/artifacts/bench/report" ;;
  --prepare) mode="--prepare" ;;
  "") ;;
  *) echo "usage: bench/run.sh [--quick|--prepare]" >&2; exit 2 ;;
esac

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing ${missing[*]} from Debian..." >&2
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work="$root/artifacts/bench"
rm -rf "$work/app" "$work/driver" "$work/run"
mkdir -p "$work/run"
echo "Building in Release..." >&2
dotnet publish src/TenantInvitations -c Release -o "$work/app" -nologo -v quiet >&2
dotnet build bench/Bench -c Release -o "$work/driver" -nologo -v quiet >&2

cluster="$(mktemp -d /tmp/bench-postgres.XXXXXX)"
if [ "$mode" = "--prepare" ]; then
  echo "# PostgreSQL stays up; stop it with: scripts/postgres-cluster.sh stop $cluster"
else
  trap 'scripts/postgres-cluster.sh stop "$cluster"' EXIT
fi
# A durable server, as in production (fsync and synchronous_commit on), with room for both load generators.
port="$(PG_OPTIONS="-c shared_buffers=512MB" scripts/postgres-cluster.sh start "$cluster")"

dotnet "$work/driver/TenantInvitations.Bench.dll" $mode --app "$work/app" --scripts "$root/bench/wrk" \
  --work "$work/run" --output "$output" --postgres-port "$port"
