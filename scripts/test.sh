#!/usr/bin/env bash
# Runs the whole test suite on SQLite and then on PostgreSQL, and ends with one line, "tests: N passed, M failed",
# counted from the TRX results of both runs.
# Extra arguments go to `dotnet test` (for example --filter FullyQualifiedName~ResendInvitationTests).
set -uo pipefail
cd "$(dirname "$0")/.."

# The browser tests drive Debian's Chromium through its ChromeDriver; nothing downloads a browser.
# PostgreSQL and Prometheus come from Debian too; all are installed in one apt-get run when missing.
packages=""
{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || packages="chromium chromium-driver"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages="$packages postgresql"
# The metrics tests scrape the service with a real Prometheus and check the alert rules with its promtool.
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || packages="$packages prometheus"
if [ -n "$packages" ]; then
  echo "Installing $packages from Debian..." >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $packages >/dev/null
fi

# The webhook tests also verify signatures with the standardwebhooks npm package (tests/webhook-verify), pinned by its lock file.
if [ ! -d tests/webhook-verify/node_modules ]; then
  echo "Installing tests/webhook-verify's npm packages..." >&2
  if ! npm ci --prefix tests/webhook-verify --no-audit --no-fund >/dev/null; then
    echo "npm ci in tests/webhook-verify failed: the webhook tests need its standardwebhooks package (node and npm, the npm registry)" >&2
    exit 1
  fi
fi

# The OpenAPI document is linted with Redocly and Spectral from npm (tests/openapi-lint), pinned by its lock file. Their
# install scripts only send usage statistics, so they are skipped.
if [ ! -d tests/openapi-lint/node_modules ]; then
  echo "Installing tests/openapi-lint's npm packages..." >&2
  if ! npm ci --prefix tests/openapi-lint --no-audit --no-fund --ignore-scripts >/dev/null; then
    echo "npm ci in tests/openapi-lint failed: the OpenAPI lint tests need @redocly/cli and @stoplight/spectral-cli (node and npm, the npm registry)" >&2
    exit 1
  fi
fi

# The TypeScript client (clients/typescript) is built with its pinned TypeScript and tested with node against the service
# (tests/TenantInvitations.Tests/Clients); its packages come from its lock file, without install scripts.
if [ ! -d clients/typescript/node_modules ]; then
  echo "Installing clients/typescript's npm packages..." >&2
  if ! npm ci --prefix clients/typescript --no-audit --no-fund --ignore-scripts >/dev/null; then
    echo "npm ci in clients/typescript failed: the TypeScript client tests need typescript, openapi-fetch and standardwebhooks (node and npm, the npm registry)" >&2
    exit 1
  fi
fi

results="artifacts/test-results"
rm -rf "$results"

# The same suite runs once per storage provider. For PostgreSQL a throwaway cluster is started here (installing Debian's
# package if needed) and dropped afterwards; each test app creates its own database in it. TEST_PROVIDERS narrows the run.
providers="${TEST_PROVIDERS:-Sqlite Postgres}"
# Tests marked [Trait("Storage", "Independent")] don't touch the database: they run with the first provider only (unless the
# caller filters the run itself).
independent=(--filter "Storage!=Independent")
case " $* " in *" --filter "*) independent=() ;; esac
skip_independent=()
status=0
cluster=""
trap '[ -n "$cluster" ] && scripts/postgres-cluster.sh stop "$cluster"' EXIT
for provider in $providers; do
  case "$provider" in
    Sqlite) unset TEST_POSTGRES ;;
    Postgres)
      cluster="$(mktemp -u "${TMPDIR:-/tmp}/ti-test-pg.XXXXXX")"
      # Durability is not what these tests are about; a throwaway cluster may skip fsync.
      port=$(PG_OPTIONS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" scripts/postgres-cluster.sh start "$cluster") || exit 1
      export TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
      ;;
    *) echo "Unknown provider in TEST_PROVIDERS: $provider (use Sqlite and/or Postgres)" >&2; exit 2 ;;
  esac
  echo "== Running the suite on $provider ==" >&2
  TEST_DB_PROVIDER="$provider" dotnet test TenantInvitations.slnx \
    --logger "trx" \
    --results-directory "$results/$provider" \
    --blame-hang-timeout 10m \
    "${skip_independent[@]}" "$@" || status=$?
  skip_independent=("${independent[@]}")
done

sum() { # sum one attribute of the <Counters> element over every TRX file
  local total=0 value
  for trx in "$results"/*/*.trx; do
    [ -f "$trx" ] || continue
    value=$(grep -o "<Counters [^>]*" "$trx" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*')
    total=$((total + ${value:-0}))
  done
  echo "$total"
}

# A fixture's cleanup that throws (TestApp's scan for leaked secrets and audit changes) is no test result of its own:
# VSTest records it as an error line in the TRX, counted here as one failure each, with its details in the TRX output.
cleanup_failures() {
  local total=0 value
  for trx in "$results"/*/*.trx; do
    [ -f "$trx" ] || continue
    grep -h "Cleanup Failure (" "$trx" | grep "<Text>" | sed 's/.*\[\(.*\)\].*/  \1/' >&2
    value=$(grep "<Text>" "$trx" | grep -c "Cleanup Failure (")
    total=$((total + ${value:-0}))
  done
  echo "$total"
}

passed=$(sum passed)
failed=$(( $(sum failed) + $(sum error) + $(sum timeout) + $(sum aborted) + $(cleanup_failures) ))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the run itself failed (build error, crash) before any test could report
  echo "dotnet test exited with $status before reporting a failed test" >&2
fi
echo "tests: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
