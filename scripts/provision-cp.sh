#!/usr/bin/env bash
# Provides what the control-plane tests need, idempotently:
# - PostgreSQL from Debian's packages, one cluster started on 127.0.0.1 in a temporary data dir
#   (reused while it answers); the tests create a fresh database per test in it;
# - the official `openai` Python package (PyPI) in a venv cached outside the clone, as a real
#   client of /v1/chat/completions.
# Prints `export` lines for the tests; everything else goes to stderr.
set -euo pipefail

CACHE="${INFERNET_CI_CACHE:-$HOME/.cache/infernet-ci}"
OPENAI_VERSION="1.109.1"
VENV="$CACHE/openai-$OPENAI_VERSION"
PGDIR="${INFERNET_PG_DIR:-/tmp/infernet-pg}"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log() { printf '==> %s\n' "$*" >&2; }

# The server's own binaries, not just a client's folder (postgresql-client has psql there).
pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then echo "$d"; return; fi
  done
}

missing=()
[ -n "$(pg_bin)" ] || missing+=(postgresql)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
BIN="$(pg_bin)"

# PostgreSQL refuses to run as root: run the cluster as the `postgres` user the package made.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

PORT_FILE="$PGDIR/port"
if [ -f "$PORT_FILE" ] && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$(cat "$PORT_FILE")"; then
  PORT=$(cat "$PORT_FILE")
else
  log "starting PostgreSQL ($BIN) in $PGDIR"
  if [ -f "$PGDIR/data/postmaster.pid" ]; then as_pg "$BIN/pg_ctl" -D "$PGDIR/data" stop -m immediate >/dev/null 2>&1 || true; fi
  rm -rf "$PGDIR"
  mkdir -p "$PGDIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$PGDIR"; fi
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$BIN/initdb" -D "$PGDIR/data" -U infernet --auth=trust -E UTF8 >/dev/null
  as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
    -o "-h 127.0.0.1 -p $PORT -k $PGDIR -c max_connections=300 -c fsync=off" start >/dev/null
  echo "$PORT" > "$PORT_FILE"
fi
log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import openai; assert openai.__version__ == '$OPENAI_VERSION'" >/dev/null 2>&1; then
  log "installing openai==$OPENAI_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "openai==$OPENAI_VERSION" >&2
fi

echo "export INFERNET_TEST_PG_URL=postgres://infernet@127.0.0.1:$PORT/postgres"
# The server binaries, for tests that run (and restart) a cluster of their own.
echo "export INFERNET_TEST_PG_BIN=$BIN"
echo "export INFERNET_TEST_OPENAI_PYTHON=$VENV/bin/python"
