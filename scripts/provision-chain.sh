#!/usr/bin/env bash
# Provides the EVM tools for the chain tests, idempotently: Node.js/npm (Debian packages) and,
# from npm, anvil (the native binary package @foundry-rs/anvil-linux-<arch>) and solc-js (solc,
# for contracts/build.mjs), installed under a cache outside the clone. Prints `export` lines;
# everything else to stderr.
set -euo pipefail

CACHE="${INFERNET_CI_CACHE:-$HOME/.cache/infernet-ci}/npm"
ANVIL_VERSION="1.7.1"
SOLC_VERSION="0.8.26"
case "$(uname -m)" in
  x86_64) ANVIL_PKG="@foundry-rs/anvil-linux-amd64" ;;
  aarch64) ANVIL_PKG="@foundry-rs/anvil-linux-arm64" ;;
  *) echo "==> no anvil build for $(uname -m)" >&2; exit 1 ;;
esac
ANVIL="$CACHE/node_modules/$ANVIL_PKG/bin/anvil"
SOLC="$CACHE/node_modules/solc"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log() { printf '==> %s\n' "$*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  log "installing nodejs and npm"
  $SUDO apt-get update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

installed() { # package version
  [ -f "$CACHE/node_modules/$1/package.json" ] &&
    grep -q "\"version\": \"$2\"" "$CACHE/node_modules/$1/package.json"
}

# The platform package directly, not the @foundry-rs/anvil wrapper: the wrapper pulls it in as
# an optional dependency, which npm silently skips when the platform package's `engines`
# (node >= 20) does not match, as with Debian 12's node 18. The binary itself needs no node.
if ! installed "$ANVIL_PKG" "$ANVIL_VERSION" || ! installed "solc" "$SOLC_VERSION" || [ ! -x "$ANVIL" ]; then
  log "installing anvil $ANVIL_VERSION and solc-js $SOLC_VERSION from npm into $CACHE"
  mkdir -p "$CACHE"
  [ -f "$CACHE/package.json" ] || echo '{"private": true}' > "$CACHE/package.json"
  (cd "$CACHE" && npm install --no-audit --no-fund --loglevel=error \
    --engine-strict=false "$ANVIL_PKG@$ANVIL_VERSION" "solc@$SOLC_VERSION" >&2)
fi
[ -x "$ANVIL" ] || { log "anvil binary missing at $ANVIL"; exit 1; }
"$ANVIL" --version >/dev/null || { log "anvil does not run"; exit 1; }

echo "export INFERNET_ANVIL_BIN='$ANVIL'"
echo "export SOLCJS_MODULE='$SOLC'"
