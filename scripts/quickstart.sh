#!/usr/bin/env bash
# The quickstart: `pulumi up` of the root program (index.ts) on the local libvirtd, from a fresh
# Debian machine. `bash scripts/quickstart.sh destroy` removes it again. Extra arguments go to
# pulumi. QUICKSTART_STACK picks the stack (default "dev").
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:-up}
[ $# -gt 0 ] && shift

bash scripts/setup-host.sh
# npm 11.19 writes lock files without the other platforms' optional packages (jest's
# unrs-resolver bindings), and `npm ci` then refuses the lock as out of sync: fall back to an
# install that keeps the locked versions.
[ -d node_modules ] || { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; }
npm run build >/dev/null
guest=$(bash test/guest/build.sh | tail -n 1)
# shellcheck source=scripts/pulumi-env.sh
source scripts/pulumi-env.sh

pulumi stack select --create "${QUICKSTART_STACK:-dev}" --non-interactive
pulumi config set guestDir "$guest" --non-interactive
case "$action" in
  up) pulumi up --yes --non-interactive "$@" && pulumi stack output ;;
  destroy) pulumi destroy --yes --non-interactive "$@" ;;
  preview) pulumi preview --non-interactive "$@" ;;
  *) echo "usage: scripts/quickstart.sh [up|preview|destroy] [pulumi args]" >&2; exit 2 ;;
esac
