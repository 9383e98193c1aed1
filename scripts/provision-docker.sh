#!/usr/bin/env bash
# Provides a Docker engine for the managed-container tests, idempotently: Debian's docker.io
# when `dockerd` or `docker` is missing, then dockerd (vfs storage driver) started when no
# engine answers. `--install-only` stops after the install (fresh-check.sh: no daemon in a
# chroot).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log() { printf '==> %s\n' "$*" >&2; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  log "installing docker.io"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
dockerd --version >/dev/null || { log "dockerd does not run"; exit 1; }
[ "${1:-}" = "--install-only" ] && exit 0

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (vfs storage driver)"
  # The daemon outlives this script: it must not inherit our open descriptors (a caller's
  # `flock` lock would stay held for as long as dockerd runs). sudo closes them itself.
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      case $fd in 0 | 1 | 2) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
    done
    exec $SUDO setsid dockerd --storage-driver=vfs >/tmp/infernet-dockerd.log 2>&1 </dev/null
  ) &
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then break; fi
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    log "dockerd did not come up; its log:"
    tail -n 30 /tmp/infernet-dockerd.log >&2 || true
    exit 1
  fi
fi
log "docker engine $(docker info --format '{{.ServerVersion}}')"
