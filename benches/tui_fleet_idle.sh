#!/usr/bin/env bash
# Idle CPU of `infernet tui` attached to 3 boxes over SSH (target ≤ 1 % of one core): three real
# release daemons in their own config dirs, Debian's sshd on loopback with a throw-away key, and
# the TUI in tmux with --host for each box. Also prints the ssh clients' CPU (the link's cost,
# outside our process). Needs sshd (./scripts/provision-sshd.sh installs it).
# Run: ./benches/tui_fleet_idle.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-30}"
SSHD="${INFERNET_TEST_SSHD:-/usr/sbin/sshd}"
[ -x "$SSHD" ] || { echo "no sshd at $SSHD: run ./scripts/provision-sshd.sh" >&2; exit 1; }
cargo build --release --quiet --bin infernet
BIN="${CARGO_TARGET_DIR:-target}/release/infernet"
DIR=$(mktemp -d)
free() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
SOCK="infernet-fleet-$$"
cleanup() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  for b in 1 2 3; do
    XDG_CONFIG_HOME="$DIR/box$b" "$BIN" --config "$DIR/box$b/config.json" stop >/dev/null 2>&1 || true
  done
  [ -f "$DIR/sshd.pid" ] && kill "$(cat "$DIR/sshd.pid")" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
HOSTS=()
for b in 1 2 3; do
  H="$DIR/box$b"
  mkdir -p "$H"
  cat > "$H/config.json" <<JSON
{"server": {"port": $(free), "bind": "127.0.0.1"}, "log": {"path": "$H/node.log"},
 "store": {"path": "$H/db.sqlite"}, "ui": {"node_name": "box$b"}}
JSON
  XDG_CONFIG_HOME="$H" XDG_DATA_HOME="$H" "$BIN" --config "$H/config.json" start >/dev/null
  HOSTS+=(--host "box$b:$H/infernet/daemon.sock")
done
ssh-keygen -q -t ed25519 -N "" -f "$DIR/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$DIR/user_key"
cp "$DIR/user_key.pub" "$DIR/authorized_keys"
PORT=$(free)
cat > "$DIR/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $DIR/host_key
AuthorizedKeysFile $DIR/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowStreamLocalForwarding yes
PidFile $DIR/sshd.pid
LogLevel ERROR
CFG
"$SSHD" -f "$DIR/sshd_config"
cat > "$DIR/ssh_config" <<CFG
Host box1 box2 box3
  HostName 127.0.0.1
  Port $PORT
  User $(id -un)
  IdentityFile $DIR/user_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
CFG
tmux -L "$SOCK" new-session -d -s fleet -x 160 -y 48 \
  "INFERNET_SSH_CONFIG=$DIR/ssh_config XDG_CONFIG_HOME=$DIR/tui $BIN tui ${HOSTS[*]}"
# Wait (up to 60 s) until the Fleet panel shows every box up, then let it settle.
for _ in $(seq 1 120); do
  tmux -L "$SOCK" capture-pane -p -t fleet | grep -q '3/3 up' && break
  sleep 0.5
done
sleep 3
PID=$(pgrep -f "^$BIN tui --host" | head -n 1)
[ -n "$PID" ] || { echo "infernet tui did not start" >&2; exit 1; }
SSH_PIDS=$(pgrep -P "$PID" -d ' ' ssh || true)
ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
HZ=$(getconf CLK_TCK)
T0=$(ticks "$PID"); S0=$(ticks $SSH_PIDS); sleep "$SECS"; T1=$(ticks "$PID"); S1=$(ticks $SSH_PIDS)
python3 - "$T0" "$T1" "$S0" "$S1" "$HZ" "$SECS" "$(echo $SSH_PIDS | wc -w)" <<'PY'
import sys
t0, t1, s0, s1, hz, secs, n = map(float, sys.argv[1:])
pct = (t1 - t0) / hz / secs * 100
ssh = (s1 - s0) / hz / secs * 100
print(f"infernet tui attached to 3 boxes, idle over {secs:.0f} s: {pct:.2f} % of one core "
      f"{'ok' if pct <= 1.0 else 'OVER'} (target 1 %); its {n:.0f} ssh clients: {ssh:.2f} %")
PY
