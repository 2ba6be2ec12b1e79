#!/usr/bin/env bash
# Every test: unit, integration against the local libvirtd, and end to end through the Pulumi
# CLI. Prepares the host first (scripts/setup-host.sh), so it runs on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
npm ci --no-audit --no-fund
npm test
