#!/usr/bin/env bash
# Schemathesis (PyPI) in a venv cached outside the clone, for tests/openapi_conformance.rs.
# Idempotent; prints `export INFERNET_TEST_SCHEMATHESIS=…` for the caller to eval.
set -euo pipefail
VERSION=4.32.5
CACHE=${INFERNET_CACHE:-$HOME/.cache/infernet}
VENV="$CACHE/schemathesis-$VERSION"
log() { printf '==> %s\n' "$*" >&2; }
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  log "installing python3-venv"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "version $VERSION\$"; then
  log "installing schemathesis==$VERSION into $VENV"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION" >&2
fi
echo "export INFERNET_TEST_SCHEMATHESIS=$VENV/bin/schemathesis"
