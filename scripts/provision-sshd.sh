#!/usr/bin/env bash
# Provides OpenSSH for the fleet tests, idempotently: Debian's openssh-server (sshd) and
# openssh-client (ssh, ssh-keygen). The tests run their own sshd on loopback with their own
# host and user keys; nothing here starts or configures the system's sshd.
# Prints an `export` line for the tests; everything else goes to stderr.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log() { printf '==> %s\n' "$*" >&2; }

# The real thing: sshd must pass its own config test, and ssh and ssh-keygen must run.
works() {
  [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || return 1
  local d; d=$(mktemp -d)
  ssh-keygen -q -t ed25519 -N '' -f "$d/host" >/dev/null 2>&1 || { rm -rf "$d"; return 1; }
  printf 'HostKey %s/host\nListenAddress 127.0.0.1\nPort 1\nUsePAM no\n' "$d" > "$d/cfg"
  local ok=0; /usr/sbin/sshd -t -f "$d/cfg" >/dev/null 2>&1 || ok=1
  rm -rf "$d"; return $ok
}

if ! works; then
  log "installing openssh-server and openssh-client (fleet tests)"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null
fi
# sshd's privilege separation directory (Debian's unit makes it at boot).
$SUDO mkdir -p /run/sshd
$SUDO chmod 0755 /run/sshd
works || { log "sshd does not pass its config test"; exit 1; }
echo "export INFERNET_TEST_SSHD=/usr/sbin/sshd"
