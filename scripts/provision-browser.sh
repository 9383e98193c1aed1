#!/usr/bin/env bash
# Provides a headless browser for the dashboard tests, idempotently: Debian's `chromium`,
# installed unless one already starts. Checks the real thing: the binary must run
# `--headless --dump-dom` on a data: URL and print the page back.
# Prints an `export` line for the tests; everything else goes to stderr.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log() { printf '==> %s\n' "$*" >&2; }

works() {
  local bin="$1"
  [ -x "$bin" ] || return 1
  timeout 60 "$bin" --headless --no-sandbox --disable-gpu --dump-dom \
    'data:text/html,<p id="probe">infernet-probe</p>' 2>/dev/null | grep -q 'infernet-probe'
}

BIN=""
for c in "${INFERNET_TEST_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$c" ] && works "$c"; then BIN="$c"; break; fi
done
if [ -z "$BIN" ]; then
  log "installing chromium (headless browser for the dashboard tests)"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  if works /usr/bin/chromium; then
    BIN=/usr/bin/chromium
  else
    log "chromium was installed but does not render a page headless"
    exit 1
  fi
fi
echo "export INFERNET_TEST_CHROMIUM=$BIN"
