#!/usr/bin/env bash
# Provides Prometheus for the metrics tests, idempotently: Debian's prometheus package (the
# server, and promtool to lint the exposition text). The tests run their own Prometheus on
# loopback with a config and storage in a temp dir; nothing here starts or configures the
# system's service (a policy-rc.d keeps the package from starting it while it installs).
# Prints an `export` line for the tests; everything else goes to stderr.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log() { printf '==> %s\n' "$*" >&2; }

# The real thing: both binaries run, and promtool accepts a config that scrapes a target.
works() {
  [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || return 1
  /usr/bin/prometheus --version >/dev/null 2>&1 || return 1
  /usr/bin/promtool --version >/dev/null 2>&1 || return 1
  local d; d=$(mktemp -d)
  printf 'scrape_configs:\n  - job_name: probe\n    static_configs: [{targets: ["127.0.0.1:1"]}]\n' > "$d/prometheus.yml"
  local ok=0; /usr/bin/promtool check config "$d/prometheus.yml" >/dev/null 2>&1 || ok=1
  rm -rf "$d"; return $ok
}

if ! works; then
  log "installing prometheus (metrics tests; the service is not started)"
  POLICY=/usr/sbin/policy-rc.d
  if [ ! -e "$POLICY" ]; then
    # Refuse every service start while apt runs, then remove the policy again.
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 0755 "$POLICY"
    trap '$SUDO rm -f "$POLICY"' EXIT
  fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
works || { log "prometheus or promtool does not run"; exit 1; }
log "$(/usr/bin/prometheus --version 2>&1 | head -n 1)"
echo "export INFERNET_TEST_PROMETHEUS=/usr/bin/prometheus"
