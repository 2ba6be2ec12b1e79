#!/usr/bin/env bash
# Every test: unit, integration against the local libvirtd, and end to end through the Pulumi
# CLI. Prepares the host first (scripts/setup-host.sh), so it runs on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
# npm 11.19 writes lock files without the other platforms' optional packages (jest's
# unrs-resolver bindings), and `npm ci` then refuses the lock as out of sync: fall back to an
# install that keeps the locked versions.
{ npm ci --no-audit --no-fund || npm install --no-audit --no-fund; }
# The end-to-end suite drives the real Pulumi CLI: build or find it first, outside jest's
# timeouts (about 5 minutes cold, cached in ~/.cache/pulumi-libvirt afterwards).
bash scripts/pulumi-cli.sh >/dev/null
npm test
