# shellcheck shell=bash
# Source me (bash/zsh):  . scripts/pulumi-env.sh
# Puts the Pulumi CLI on PATH (building it once via pulumi-cli.sh) and configures it for offline,
# account-free use: local file backend, no update check, no plugin downloads.
# No `set -euo pipefail` here: being sourced, it would change the options of the caller's shell.

_pl_dir=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
if ! _pl_bin=$(bash "$_pl_dir/pulumi-cli.sh" | tail -n 1) || [ -z "$_pl_bin" ]; then
  echo "pulumi-env: could not provide the Pulumi CLI" >&2
  unset _pl_dir _pl_bin
  return 1
fi
case ":$PATH:" in *":$_pl_bin:"*) ;; *) export PATH="$_pl_bin:$PATH" ;; esac

# Do not call home: skip the GitHub/pulumi.com version check, never download plugins (a missing plugin is an
# error instead of a hang without network), and don't consult the Pulumi Registry for package names.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true

# State in a local directory instead of Pulumi Cloud (no `pulumi login` needed), unless the user chose a backend.
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  _pl_state=${PULUMI_LIBVIRT_STATE:-$HOME/.pulumi-libvirt/state}
  mkdir -p "$_pl_state"
  export PULUMI_BACKEND_URL="file://$_pl_state"
  unset _pl_state
fi

# The file backend encrypts stack secrets with a passphrase and prompts for it when unset. Default: the EMPTY
# passphrase (accepted by Pulumi, no prompt) -- fine for dev stacks, but it means secrets in that state are not
# protected; set PULUMI_CONFIG_PASSPHRASE(_FILE) yourself for anything real. An existing value is kept.
if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE=""
fi
# PULUMI_HOME (~/.pulumi: credentials, plugin cache, workspace settings) is deliberately left alone.
unset _pl_dir _pl_bin
