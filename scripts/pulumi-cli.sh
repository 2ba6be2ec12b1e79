#!/usr/bin/env bash
# Provides the Pulumi CLI (pulumi, pulumi-language-nodejs, pulumi-language-yaml, pulumi-language-python,
# pulumi-resource-pulumi-nodejs) without needing get.pulumi.com: the Go binaries are built from the Go module
# proxy, once, and cached. Beside them: gen-python-sdk (scripts/gen-python-sdk), which writes sdk/python.
#
#   PATH="$(bash scripts/pulumi-cli.sh):$PATH"
#
# The bin directory is the last (only) line on stdout; progress and errors go to stderr.
# Env: PULUMI_LIBVIRT_CACHE (default ~/.cache/pulumi-libvirt), PULUMI_LIBVIRT_BUILD_JOBS (go build -p, default 2).
# Rebuild: rm -rf "$PULUMI_LIBVIRT_CACHE/pulumi-v3.248.0".
set -euo pipefail

# Pulumi YAML's language host (its own module and release line), for the YAML programs that use the provider plugin.
YAML_MOD=github.com/pulumi/pulumi-yaml
YAML_VER=v1.25.0

# Must match the exact "@pulumi/pulumi" version in package.json's devDependencies (the CLI, language host and SDK ship together).
VERSION=v3.248.0
# The language host is a separate Go module with no tags of its own: pseudo-version of the commit tagged
# pkg/v3.248.0 ("Changelog and go.mod updates for v3.248.0"), whose go.mod requires sdk/v3 v3.248.0.
LANGHOST_MOD=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
LANGHOST_VER=v3.0.0-20260624180030-dc7edd58bc13
# Fallback when the proxy refuses that pseudo-version (allowlisting proxies, e.g. our CI sandbox's, answer 403):
# sdk/v3 v3.68.0 is the last release where the language host was a package inside the tagged sdk/v3 module.
# The v3.248 CLI talks to it fine (it falls back for RPCs an older host lacks), but Pulumi.yaml
# runtime.options (typescript, tsconfig, nodeargs) are ignored by it: it only reads them from command-line flags.
FALLBACK_SDK=v3.68.0

log() { echo "pulumi-cli: $*" >&2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${PULUMI_LIBVIRT_CACHE:-$HOME/.cache/pulumi-libvirt}
bin=$cache/pulumi-$VERSION/bin

# An installed official CLI is used as is if its language host can be found (on PATH or next to it, which is
# where the CLI itself looks for bundled plugins).
if p=$(command -v pulumi) && { command -v pulumi-language-nodejs ||
    [[ -x $(dirname "$(readlink -f "$p")")/pulumi-language-nodejs ]]; } >/dev/null; then
  dirname "$p"
  exit 0
fi

# Built after the CLI, each by its build_* function below, also into a cache made before it was needed.
extras=(pulumi-language-yaml pulumi-language-python gen-python-sdk)
have_cli() { [[ -x $bin/pulumi && -x $bin/pulumi-language-nodejs && -x $bin/pulumi-resource-pulumi-nodejs ]]; }
have_bin() { have_cli && for x in "${extras[@]}"; do [[ -x $bin/$x ]] || return 1; done; }
if have_bin; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { log "Go is required to build the Pulumi CLI (or install pulumi yourself)"; exit 1; }
shim=$root/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs
[[ -f $shim ]] || { log "$shim is missing: run 'npm install' first"; exit 1; }

mkdir -p "$cache"
# Serialize concurrent first runs (e.g. parallel test workers); the loser then takes the fast path.
if command -v flock >/dev/null; then
  exec 9>"$cache/.lock"
  flock 9
  if have_bin; then echo "$bin"; exit 0; fi
fi

# Module and build caches live in the cache dir so re-runs (and rebuilds) need no network. -modcacherw keeps
# the module cache deletable with rm -rf. GOSUMDB: sum.golang.org is often unreachable where only the module
# proxy is (this project's CI sandbox); integrity then rests on the proxy's TLS. Export GOSUMDB to re-enable.
export GOMODCACHE=${GOMODCACHE:-$cache/go/mod} GOCACHE=${GOCACHE:-$cache/go/build}
# -mod=mod lets `go build` resolve the dependency graph itself (offline from the module cache on re-runs; `go get`
# of a package path would query the proxy for candidate module paths even when everything is cached).
export GOFLAGS="-modcacherw -mod=mod" GOSUMDB=${GOSUMDB:-off} GOWORK=off
# Same flags as Pulumi's .goreleaser.yml + scripts/go-wrapper.sh: static binaries, no cgo.
export CGO_ENABLED=0
build() { go build -p "${PULUMI_LIBVIRT_BUILD_JOBS:-2}" -trimpath -tags osusergo,grpcnotrace \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$1" -o "$out/" "${@:2}"; }

# Repeat the non-local replace directives of a module's go.mod (e.g. atotto/clipboard => tgummerer/clipboard):
# Go ignores replaces of dependencies, but Pulumi builds its releases with that module as the main module.
copy_replaces() {
  local gomod
  gomod=$(go list -m -f '{{.GoMod}}' "$1") || return 1
  # shellcheck disable=SC2016 # JavaScript template literal, not shell
  go mod edit -json "$gomod" | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const r of j.Replace || []) if (r.New.Version)
      console.log(`-replace=${r.Old.Path}${r.Old.Version ? "@" + r.Old.Version : ""}=${r.New.Path}@${r.New.Version}`);
  ' | xargs -r go mod edit
}

out=$cache/pulumi-$VERSION/bin.partial
src=$cache/pulumi-$VERSION/src

# Each extra is a separate module with its own dependency graph.
build_pulumi-language-yaml() {
  mkdir -p "$src/yaml" && cd "$src/yaml"
  rm -f go.mod go.sum && go mod init yaml-build >/dev/null 2>&1
  go mod edit -require="$YAML_MOD@$YAML_VER"
  copy_replaces "$YAML_MOD@$YAML_VER"
  log "building pulumi-language-yaml $YAML_VER"
  build "$VERSION" "$YAML_MOD/cmd/pulumi-language-yaml"
}
# The proxy refuses the Python host's own module at v3.248 (github.com/pulumi/pulumi/sdk/python/cmd/
# pulumi-language-python/v3: 403), so this is sdk/v3 $FALLBACK_SDK's, a package of that module like the
# Node.js fallback, with its exec shim beside it. It runs programs against a venv's python3 on PATH (it
# predates runtime.options.virtualenv from the engine); it cannot generate SDKs, hence gen-python-sdk.
build_pulumi-language-python() {
  mkdir -p "$src/python" && cd "$src/python"
  rm -f go.mod go.sum && go mod init python-build >/dev/null 2>&1
  go mod edit -require=github.com/pulumi/pulumi/sdk/v3@$FALLBACK_SDK
  copy_replaces github.com/pulumi/pulumi/sdk/v3@$FALLBACK_SDK
  log "building pulumi-language-python (sdk/v3 $FALLBACK_SDK)"
  build "$FALLBACK_SDK" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python
  install -m 0755 "$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3@$FALLBACK_SDK)/python/cmd/pulumi-language-python-exec" "$out/"
}
# Pulumi's Python code generator at the CLI's version (pkg/v3), behind a small main of ours.
build_gen-python-sdk() {
  mkdir -p "$src/gen-python-sdk" && cd "$src/gen-python-sdk"
  rm -f go.mod go.sum && go mod init gen-python-sdk >/dev/null 2>&1
  cp "$root/scripts/gen-python-sdk/main.go" .
  go mod edit -require=github.com/pulumi/pulumi/pkg/v3@$VERSION -require=github.com/pulumi/pulumi/sdk/v3@$VERSION
  copy_replaces github.com/pulumi/pulumi/pkg/v3@$VERSION
  log "building gen-python-sdk (pkg/v3 $VERSION)"
  go build -p "${PULUMI_LIBVIRT_BUILD_JOBS:-2}" -trimpath -ldflags "-s -w" -o "$out/" .
}
build_extras() {
  for x in "${extras[@]}"; do [[ -x $bin/$x ]] || "build_$x"; done
}
if have_cli; then
  rm -rf "$out" && mkdir -p "$out" "$src"
  build_extras
  mv "$out"/* "$bin/" && rm -rf "$out"
  echo "$bin"
  exit 0
fi

# Throwaway main module: `go install .../cmd/pulumi@v3.248.0` is refused because pkg/go.mod has replace directives.
rm -rf "$out" "$src" && mkdir -p "$out" "$src" && cd "$src"
go mod init pulumi-cli-build
log "building pulumi $VERSION from the Go module proxy into $bin (cold: ~5-20 min)"
go mod edit -require=github.com/pulumi/pulumi/pkg/v3@$VERSION -require=github.com/pulumi/pulumi/sdk/v3@$VERSION
copy_replaces github.com/pulumi/pulumi/pkg/v3@$VERSION
pkgs=(github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
if copy_replaces "$LANGHOST_MOD@$LANGHOST_VER"; then
  go mod edit -require="$LANGHOST_MOD@$LANGHOST_VER"
  pkgs+=("$LANGHOST_MOD")
else
  log "WARNING: $LANGHOST_MOD@$LANGHOST_VER unavailable; falling back to the language host of sdk/v3 $FALLBACK_SDK"
fi
build "$VERSION" "${pkgs[@]}"

if [[ ! -x $out/pulumi-language-nodejs ]]; then
  # Separate module: it needs sdk/v3 at $FALLBACK_SDK, which cannot coexist with v3.248.0 in one build.
  mkdir -p "$src/langhost" && cd "$src/langhost"
  go mod init langhost-build
  go mod edit -require=github.com/pulumi/pulumi/sdk/v3@$FALLBACK_SDK
  copy_replaces github.com/pulumi/pulumi/sdk/v3@$FALLBACK_SDK
  build "$FALLBACK_SDK" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
fi

build_extras

# Dynamic providers run as the resource plugin "pulumi-nodejs": a shell shim shipped in the npm package that
# resolves @pulumi/pulumi from the program directory. The CLI looks for it next to its own binary.
install -m 0755 "$shim" "$out/pulumi-resource-pulumi-nodejs"
rm -rf "$bin" && mv "$out" "$bin"
log "done: $("$bin/pulumi" version)"
echo "$bin"
