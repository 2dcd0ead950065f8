#!/usr/bin/env bash
# Regenerates both clients from the document the service itself serves:
#   clients/openapi.json                              the document, as GET /openapi/v1.json answers it
#   clients/csharp/TenantInvitations.Client/Generated Kiota 1.38.0 (the local tool manifest, .config/dotnet-tools.json)
#   clients/typescript/src/schema.ts                  openapi-typescript 7.13.0 (clients/typescript's lock file)
# The service runs on its embedded defaults in a throwaway folder with a fixed App:PublicBaseUrl, so what is generated
# depends on the API alone. With --check nothing in clients/ is written: the output goes to a temporary folder and the
# script fails, naming the files, if it differs from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

check=0
[ "${1:-}" = "--check" ] && check=1

work="$(mktemp -d "${TMPDIR:-/tmp}/ti-clients.XXXXXX")"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ "$check" -eq 1 ]; then out="$work/out"; else out="$root/clients"; fi
mkdir -p "$out"

# The service: built (unless SERVICE_DLL names a build already made, as the tests do), started on a free loopback port,
# stopped by its own PID.
dll="${SERVICE_DLL:-}"
if [ -z "$dll" ]; then
  dotnet build src/TenantInvitations -nologo -v quiet -clp:NoSummary >/dev/null
  dll="$root/src/TenantInvitations/bin/Debug/net10.0/TenantInvitations.dll"
fi
mkdir -p "$work/service"
# Port 0: the service takes a free port itself and logs it, so no other process can take it in between.
(cd "$work/service" && ASPNETCORE_ENVIRONMENT=Development App__PublicBaseUrl="https://invitations.example.com" \
  exec dotnet "$dll" --urls "http://127.0.0.1:0" >"$work/service.log" 2>&1) &
pid=$!
address=""
for _ in $(seq 1 300); do
  address=$(grep -o 'Now listening on: http://127\.0\.0\.1:[0-9]*' "$work/service.log" | head -n 1 | sed 's/Now listening on: //') || true
  [ -n "$address" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/service.log" >&2; echo "The service stopped before it listened." >&2; exit 1; }
  sleep 0.2
done
[ -n "$address" ] || { cat "$work/service.log" >&2; echo "The service did not listen within 60 s." >&2; exit 1; }
# Fetched with node (which the TypeScript client needs anyway), retried while the service finishes starting.
node -e '
const [url, file] = process.argv.slice(1);
(async () => {
  for (let i = 0; i < 300; i++) {
    try {
      const response = await fetch(url);
      if (response.ok) { require("fs").writeFileSync(file, await response.text()); return; }
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  console.error(`${url} did not answer 200 within 60 s.`);
  process.exit(1);
})();' "$address/openapi/v1.json" "$work/openapi.json" || { cat "$work/service.log" >&2; exit 1; }
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
# Pretty-printed with a final newline, so a change reads as a diff of lines.
node -e 'const fs = require("fs"); fs.writeFileSync(process.argv[2], JSON.stringify(JSON.parse(fs.readFileSync(process.argv[1], "utf8")), null, 2) + "\n")' \
  "$work/openapi.json" "$out/openapi.json"

# C#: Kiota, from the local tool manifest.
dotnet tool restore >/dev/null
mkdir -p "$out/csharp/TenantInvitations.Client"
dotnet kiota generate --openapi "$out/openapi.json" --language CSharp \
  --output "$out/csharp/TenantInvitations.Client/Generated" \
  --class-name InvitationsApi --namespace-name TenantInvitations.Client.Generated \
  --exclude-backward-compatible --clean-output --log-level Warning >"$work/kiota.log" 2>&1 \
  || { cat "$work/kiota.log" >&2; exit 1; }
# kiota-lock.json records absolute paths and a machine-specific hash, and .kiota.log whether this machine could check for
# a newer Kiota: the committed output leaves both out.
rm -f "$out/csharp/TenantInvitations.Client/Generated/kiota-lock.json" "$out/csharp/TenantInvitations.Client/Generated/.kiota.log"

# TypeScript: openapi-typescript, pinned by clients/typescript's lock file.
if [ ! -d clients/typescript/node_modules ]; then
  npm ci --prefix clients/typescript --no-audit --no-fund --ignore-scripts >/dev/null
fi
mkdir -p "$out/typescript/src"
clients/typescript/node_modules/.bin/openapi-typescript "$out/openapi.json" -o "$out/typescript/src/schema.ts" --root-types --root-types-no-schema-prefix >"$work/openapi-typescript.log" 2>&1 \
  || { cat "$work/openapi-typescript.log" >&2; exit 1; }

if [ "$check" -eq 1 ]; then
  status=0
  diff -ru "$root/clients/openapi.json" "$out/openapi.json" >"$work/diff" || status=1
  diff -ru "$root/clients/csharp/TenantInvitations.Client/Generated" "$out/csharp/TenantInvitations.Client/Generated" >>"$work/diff" || status=1
  diff -ru "$root/clients/typescript/src/schema.ts" "$out/typescript/src/schema.ts" >>"$work/diff" || status=1
  if [ "$status" -ne 0 ]; then
    head -n 200 "$work/diff" >&2
    echo "The committed clients differ from what the served document generates: run clients/generate.sh and commit the result." >&2
    exit 1
  fi
  echo "clients: the committed document and both generated clients match the service"
fi
