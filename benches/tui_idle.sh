#!/usr/bin/env bash
# Idle CPU of `infernet tui` over 30 s (target ≤ 1 % of one core): the real release binary in
# tmux with a node on a temporary config, no jobs. Run: ./benches/tui_idle.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-30}"
cargo build --release --quiet --bin infernet
BIN="${CARGO_TARGET_DIR:-target}/release/infernet"
DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > "$DIR/config.json" <<JSON
{"server": {"port": $PORT, "bind": "127.0.0.1"}, "log": {"path": "$DIR/node.log"}, "store": {"path": "$DIR/db.sqlite"}}
JSON
SOCK="infernet-idle-$$"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -rf "$DIR"' EXIT
tmux -L "$SOCK" new-session -d -s idle -x 160 -y 48 "XDG_CONFIG_HOME=$DIR $BIN tui --config $DIR/config.json"
sleep 5
PID=$(pgrep -f "^$BIN tui --config $DIR/config.json" | head -n 1)
[ -n "$PID" ] || { echo "infernet tui did not start" >&2; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
T0=$(ticks); sleep "$SECS"; T1=$(ticks)
python3 - "$T0" "$T1" "$HZ" "$SECS" <<'PY'
import sys
t0, t1, hz, secs = map(float, sys.argv[1:])
pct = (t1 - t0) / hz / secs * 100
print(f"infernet tui idle CPU over {secs:.0f} s: {pct:.2f} % of one core ({pct/1.0:.2f}x of the 1 % target) {'ok' if pct <= 1.0 else 'OVER'}")
PY
