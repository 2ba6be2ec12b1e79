#!/usr/bin/env bash
# Regenerates sdk/python, the Python SDK, from the plugin's schema (provider/plugin/schema.json, itself
# made by `npm run schema`) with Pulumi's own code generator (scripts/gen-python-sdk, built by
# scripts/pulumi-cli.sh). provider/plugin/pythonSdk.int.test.ts fails when sdk/python drifts.
#
#   bash scripts/gen-python-sdk.sh [OUTDIR]     (default: sdk/python)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/sdk/python}
bin=$(bash "$root/scripts/pulumi-cli.sh")
gen=$bin/gen-python-sdk
[[ -x $gen ]] || { echo "gen-python-sdk: $gen is missing (an installed official CLI was found instead: run 'pulumi package gen-sdk provider/plugin/schema.json --language python' there)" >&2; exit 1; }
rm -rf "$out"
"$gen" "$root/provider/plugin/schema.json" "$out"
