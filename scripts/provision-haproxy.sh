#!/usr/bin/env bash
# Provides HAProxy for the control-plane replica tests, idempotently: Debian's haproxy
# package. The tests run their own haproxy on loopback with a config in a temp dir; nothing
# here starts or configures the system's service (a policy-rc.d keeps the package from
# starting it while it installs). Prints an `export` line for the tests; the rest goes to
# stderr.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log() { printf '==> %s\n' "$*" >&2; }
BIN=/usr/sbin/haproxy

# The real thing: the binary runs and accepts a config like the tests' (HTTP health checks
# on a backend of servers, a frontend on loopback).
works() {
  [ -x "$BIN" ] || return 1
  "$BIN" -v >/dev/null 2>&1 || return 1
  local d; d=$(mktemp -d)
  cat > "$d/haproxy.cfg" <<'CFG'
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
frontend probe
  bind 127.0.0.1:1
  default_backend replicas
backend replicas
  option httpchk GET /api/ready
  server a 127.0.0.1:2 check
CFG
  local ok=0; "$BIN" -c -q -f "$d/haproxy.cfg" >/dev/null 2>&1 || ok=1
  rm -rf "$d"; return $ok
}

if ! works; then
  log "installing haproxy (control-plane replica tests; the service is not started)"
  POLICY=/usr/sbin/policy-rc.d
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 0755 "$POLICY"
    trap '$SUDO rm -f "$POLICY"' EXIT
  fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null
fi
works || { log "haproxy does not run or refuses a config"; exit 1; }
log "$("$BIN" -v 2>&1 | head -n 1)"
echo "export INFERNET_TEST_HAPROXY=$BIN"
