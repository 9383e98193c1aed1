#!/usr/bin/env bash
# Bytes per second an attached TUI receives from one box (target idle ≤ 2 KB/s): the real
# release daemon on a temporary config with one container (a loopback echo server), and a
# subscriber on its socket exactly as `infernet tui` subscribes (refresh 500 ms), once with
# model deltas (what the TUI asks for) and once with full models (older TUIs), idle and while
# jobs run back to back. Run: ./benches/tui_traffic.sh [seconds per phase]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-20}"
cargo build --release --quiet --bin infernet
BIN="${CARGO_TARGET_DIR:-target}/release/infernet"
DIR=$(mktemp -d)
free() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free)
ECHO=$(free)
python3 - "$ECHO" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body) or 2))
        self.end_headers()
        self.wfile.write(body or b"{}")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
ECHO_PID=$!
cat > "$DIR/config.json" <<JSON
{"server": {"port": $PORT, "bind": "127.0.0.1"}, "manage_containers": false,
 "containers": [{"id": "echo", "url": "http://127.0.0.1:$ECHO"}],
 "log": {"path": "$DIR/node.log"}, "store": {"path": "$DIR/db.sqlite"}}
JSON
export XDG_CONFIG_HOME="$DIR" XDG_DATA_HOME="$DIR"
trap '"$BIN" --config "$DIR/config.json" stop >/dev/null 2>&1 || true; kill $ECHO_PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
"$BIN" --config "$DIR/config.json" start >/dev/null
python3 - "$DIR/infernet/daemon.sock" "$PORT" "$SECS" <<'PY'
import json, socket, sys, threading, time, urllib.request
sock_path, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

def measure(delta, load):
    s = socket.socket(socket.AF_UNIX)
    for _ in range(100):
        try:
            s.connect(sock_path)
            break
        except OSError:
            time.sleep(0.1)
    req = {"cmd": "subscribe", "payload": {"refresh_ms": 500, "delta": delta}}
    s.sendall((json.dumps(req) + "\n").encode())
    f = s.makefile("rb")
    # Skip the reply and the first (whole) model: the steady state is what a link carries.
    while True:
        line = f.readline()
        if not line:
            raise SystemExit("the daemon closed the connection")
        if b'"event":"model"' in line:
            break
    stop = time.time() + secs
    jobs = [0]
    def load_loop():
        while time.time() < stop:
            body = json.dumps({"containers": ["echo"], "data": {"prompt": "hi"}}).encode()
            r = urllib.request.Request(f"http://127.0.0.1:{port}/api/jobs", body, {"content-type": "application/json"})
            try:
                urllib.request.urlopen(r, timeout=5).read()
                jobs[0] += 1
            except OSError:
                pass
    t = threading.Thread(target=load_loop) if load else None
    if t:
        t.start()
    n, frames = 0, 0
    s.settimeout(1.0)
    while time.time() < stop:
        try:
            line = f.readline()
        except (socket.timeout, TimeoutError):
            continue
        if not line:
            break
        n += len(line)
        frames += 1
    if t:
        t.join()
    s.close()
    rate = f"{jobs[0] / secs:.0f} jobs/s" if load else "idle"
    mode = "deltas" if delta else "full models"
    print(f"{mode:12} {rate:>12}: {n / secs / 1024:8.2f} KB/s in {frames / secs:.1f} frames/s")

for load in (False, True):
    for delta in (True, False):
        measure(delta, load)
PY
