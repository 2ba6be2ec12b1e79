#!/usr/bin/env bash
# Every test: unit, integration against the local libvirtd, and end to end through the Pulumi
# CLI. Prepares the host first (scripts/setup-host.sh), so it runs on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
npm ci --no-audit --no-fund
# The end-to-end suite drives the real Pulumi CLI: build or find it first, outside jest's
# timeouts (about 5 minutes cold, cached in ~/.cache/pulumi-libvirt afterwards).
bash scripts/pulumi-cli.sh >/dev/null
npm test
