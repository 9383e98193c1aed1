#!/usr/bin/env bash
# The whole test suite. Installs what the tests need, idempotently: Debian's docker.io (and starts
# dockerd when no engine answers), tmux (TUI smoke test), llama.cpp's llama-server and a small GGUF model
# (scripts/provision-llm.sh), PostgreSQL and the openai Python package (scripts/provision-cp.sh),
# schemathesis (scripts/provision-schemathesis.sh), headless chromium (scripts/provision-browser.sh), OpenSSH (scripts/provision-sshd.sh),
# Prometheus and promtool (scripts/provision-prometheus.sh), HAProxy (scripts/provision-haproxy.sh),
# anvil and solc-js from npm (scripts/provision-chain.sh); then the
# contract artifacts check, fmt, clippy and every test. Needs only the Rust
# toolchain and root or sudo for the install step.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '==> %s\n' "$*" >&2; }

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Build prerequisites (cmake, g++, libclang for the embedded llama.cpp engine).
./scripts/build-deps.sh

# Docker engine: the managed-container tests run against a real one.
./scripts/provision-docker.sh

# tmux drives the real `infernet tui` in the smoke test.
if ! command -v tmux >/dev/null 2>&1; then
  log "installing tmux"
  apt_install tmux
fi

# A real LLM server and model for the backend tests (built once, cached outside the clone).
eval "$(./scripts/provision-llm.sh)"
log "llama-server $INFERNET_TEST_LLAMA_SERVER"

# PostgreSQL (a loopback cluster in a temp dir) and the openai Python client for the
# control-plane tests.
eval "$(./scripts/provision-cp.sh)"
log "postgres $INFERNET_TEST_PG_URL, openai client $INFERNET_TEST_OPENAI_PYTHON"

# Schemathesis (PyPI) for the OpenAPI conformance test.
eval "$(./scripts/provision-schemathesis.sh)"
log "schemathesis $INFERNET_TEST_SCHEMATHESIS"

# OpenSSH (sshd on loopback, ssh) for the fleet tests.
eval "$(./scripts/provision-sshd.sh)"
log "sshd $INFERNET_TEST_SSHD"

# Prometheus (scrapes a node and a control plane on loopback) and promtool for the metrics tests.
eval "$(./scripts/provision-prometheus.sh)"
log "prometheus $INFERNET_TEST_PROMETHEUS"

# HAProxy in front of control-plane replicas for the rolling-restart tests.
eval "$(./scripts/provision-haproxy.sh)"
log "haproxy $INFERNET_TEST_HAPROXY"

# Headless chromium for the web dashboard tests.
eval "$(./scripts/provision-browser.sh)"
log "chromium $INFERNET_TEST_CHROMIUM"

# anvil and solc-js (npm) for the contract and chain tests.
eval "$(./scripts/provision-chain.sh)"
log "anvil $("$INFERNET_ANVIL_BIN" --version | head -n 1)"
# The committed artifacts must be what the sources compile to (solc-js is deterministic).
log "rebuilding contracts/artifacts to compare with the committed ones"
ARTIFACTS_TMP=$(mktemp -d)
cp -r contracts/artifacts "$ARTIFACTS_TMP/before"
node contracts/build.mjs >&2
if ! diff -r "$ARTIFACTS_TMP/before" contracts/artifacts >/dev/null; then
  log "contracts/artifacts differ from a fresh build of contracts/: commit the rebuilt artifacts"
  exit 1
fi
rm -rf "$ARTIFACTS_TMP"

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
log "cargo test"
# --no-fail-fast: every test binary runs even when one fails, so one failure never hides others.
cargo test --workspace --no-fail-fast --lib --bins --tests
