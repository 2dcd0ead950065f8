#!/usr/bin/env bash
# Publishes a release a person can run: one self-contained Linux x64 executable (no .NET needed on the server), compiled
# ahead of time with ReadyToRun for a faster start, with the email templates and pages beside it (read at start, and
# there for an operator to read or adapt) and the migrations inside it (`TenantInvitations migrate`).
#   scripts/release.sh [output directory, default out/release]
set -euo pipefail
cd "$(dirname "$0")/.."
output="${1:-out/release}"
rm -rf "$output"
dotnet publish src/TenantInvitations -c Release -r linux-x64 --self-contained true \
  -p:PublishSingleFile=true -p:PublishReadyToRun=true \
  -p:DebugType=none -o "$output" -nologo -v quiet
cp deploy/systemd/tenant-invitations.service deploy/systemd/tenant-invitations.env.example "$output/"
echo "$output/TenantInvitations ($(du -sh "$output/TenantInvitations" | cut -f1)), with Email/Templates, Invitations/Pages and the systemd unit"
