#!/usr/bin/env bash
# Runs the whole test suite and ends with one line, "tests: N passed, M failed", counted from the TRX results.
# Extra arguments go to `dotnet test` (for example --filter FullyQualifiedName~ResendInvitationTests).
set -uo pipefail
cd "$(dirname "$0")/.."

# The browser tests drive Debian's Chromium through its ChromeDriver; nothing downloads a browser.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "Installing chromium and chromium-driver from Debian for the browser tests..." >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

results="artifacts/test-results"
rm -rf "$results"

dotnet test TenantInvitations.slnx \
  --logger "trx" \
  --results-directory "$results" \
  --blame-hang-timeout 10m \
  "$@"
status=$?

sum() { # sum one attribute of the <Counters> element over every TRX file
  local total=0 value
  for trx in "$results"/*.trx; do
    [ -f "$trx" ] || continue
    value=$(grep -o "<Counters [^>]*" "$trx" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*')
    total=$((total + ${value:-0}))
  done
  echo "$total"
}

passed=$(sum passed)
failed=$(( $(sum failed) + $(sum error) + $(sum timeout) + $(sum aborted) ))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the run itself failed (build error, crash) before any test could report
  echo "dotnet test exited with $status before reporting a failed test" >&2
fi
echo "tests: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
