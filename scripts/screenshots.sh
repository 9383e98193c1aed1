#!/usr/bin/env bash
# Regenerates screenshots/*.png from the real binary: `infernet tui` runs in tmux against a real
# node (the echo container as a native process, llama.cpp's llama-server with SmolLM2 for chat,
# anvil with our contracts from `infernet dev chain`, a control plane with one other node),
# jobs are posted over REST, and each
# screen is captured with its colours (tmux capture-pane -e) and drawn to PNG with DejaVu Sans
# Mono (ui/examples/ansi2png.rs). The wizard finds the llama-server through LLAMACPP_HOST.
# The web dashboard pages come from headless chromium (tests/dashboard.rs).
# Run: ./scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '==> %s\n' "$*" >&2; }
SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
if [ ! -f "$FONT" ] || ! command -v tmux >/dev/null; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core tmux >/dev/null
fi
./scripts/build-deps.sh
eval "$(./scripts/provision-llm.sh)"
eval "$(./scripts/provision-chain.sh)"
T="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin infernet
cargo build --release --quiet -p infernet-ui --example ansi2png
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$T/echo-container" cargo build --release --quiet \
  --target x86_64-unknown-linux-gnu --manifest-path tests/fixtures/echo-container/Cargo.toml
BIN="$T/release/infernet"
ECHO="$T/echo-container/x86_64-unknown-linux-gnu/release/infernet-echo"
A2P="$T/release/examples/ansi2png"

W=$(mktemp -d)
SOCK="infernet-shots-$$"
PIDS=()
cleanup() { tmux -L "$SOCK" kill-server 2>/dev/null || true; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

ECHO_PORT=$(free_port); LLM_PORT=$(free_port); CHAIN_PORT=$(free_port); REST_PORT=$(free_port)
"$ECHO" --bind 127.0.0.1 --port "$ECHO_PORT" --tag echo 2>/dev/null & PIDS+=($!)
"$INFERNET_TEST_LLAMA_SERVER" -m "$INFERNET_TEST_GGUF" --host 127.0.0.1 --port "$LLM_PORT" -t 2 -c 2048 >/dev/null 2>"$W/llama.log" & PIDS+=($!)
cat > "$W/config.json" <<JSON
{
  "server": {"port": $REST_PORT, "bind": "127.0.0.1"},
  "manage_containers": false,
  "containers": [{"id": "echo", "url": "http://127.0.0.1:$ECHO_PORT", "description": "echoes its input"}],
  "backends": [{"id": "llm", "kind": "llamacpp", "url": "http://127.0.0.1:$LLM_PORT"}],
  "log": {"path": "$W/node.log"},
  "store": {"path": "$W/infernet.db"},
  "ui": {"node_name": "demo-node"}
}
JSON
# A control plane with one other node (stub backend) that this node joins, for the Peers panel.
CP_PORT=$(free_port)
"$BIN" control-plane serve --listen "127.0.0.1:$CP_PORT" --database-url "$W/cp.db" 2>"$W/cp.log" & PIDS+=($!)
mkdir -p "$W/peer/infernet"
cat > "$W/peer/infernet/config.json" <<JSON
{"server": {"port": 0, "bind": "127.0.0.1"}, "manage_containers": false,
 "backends": [{"id": "stub", "kind": "stub"}], "store": {"path": "$W/peer/node.db"},
 "log": {"path": "$W/peer/node.log"}, "ui": {"node_name": "peer-node"},
 "control_plane": {"url": "http://127.0.0.1:$CP_PORT"}}
JSON
XDG_CONFIG_HOME="$W/peer" "$BIN" init >/dev/null
XDG_CONFIG_HOME="$W/peer" XDG_DATA_HOME="$W/peer" "$BIN" start --foreground 2>/dev/null & PIDS+=($!)
XDG_CONFIG_HOME="$W/xdg" "$BIN" init >/dev/null
python3 - "$W/config.json" "http://127.0.0.1:$CP_PORT" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["control_plane"] = {"url": sys.argv[2]}
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
INFERNET_ANVIL_BIN="$INFERNET_ANVIL_BIN" "$BIN" dev chain --port "$CHAIN_PORT" --write-config "$W/config.json" >"$W/chain.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 60); do grep -q "^config" "$W/chain.log" && break; sleep 1; done
grep -q "^config" "$W/chain.log" || { cat "$W/chain.log" >&2; exit 1; }
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$LLM_PORT/health" >/dev/null && break; sleep 1; done

tmux -L "$SOCK" new-session -d -s s -x 160 -y 48 \
  "XDG_CONFIG_HOME=$W/xdg COLORTERM=truecolor $BIN tui --config $W/config.json"
for _ in $(seq 1 60); do tmux -L "$SOCK" capture-pane -p -t s | grep -q "REST 127.0.0.1:$REST_PORT" && break; sleep 0.5; done

post() { curl -s -XPOST "http://127.0.0.1:$REST_PORT/api/jobs" -H 'content-type: application/json' -d "$1" >/dev/null; }
for i in 1 2 3 4 5 6; do post "{\"containers\":[\"echo\"],\"data\":{\"prompt\":\"job $i\"}}"; done
post '{"containers":["echo","llm"],"data":{"messages":[{"role":"user","content":"Say hi"}]}}'
post '{"containers":["llm"],"data":{"messages":[{"role":"user","content":"Name a colour."}],"max_tokens":16}}'
sleep 6

shot() { # name
  sleep 1.5
  tmux -L "$SOCK" capture-pane -e -p -t s > "$W/$1.ansi"
  "$A2P" "$FONT" "$W/$1.ansi" "screenshots/$1.png"
  log "screenshots/$1.png"
}
keys() { for k in "$@"; do tmux -L "$SOCK" send-keys -t s "$k"; sleep 0.3; done; }
mkdir -p screenshots
shot overview
keys 2; shot jobs
keys Enter; shot job-detail
keys Escape 3; shot subscriptions
keys 4 j j; shot containers
keys Enter; shot row-detail
keys Escape
keys 5; sleep 10; shot peers
keys 7 "In one sentence, what is a GPU?" Enter; sleep 12; shot chat
keys Tab 8; sleep 3; shot metrics
keys Escape q; sleep 2
# The fleet view: two real daemons behind a real sshd on loopback (OpenSSH forwards each daemon's
# socket), rig1 the peer node above, rig2 a node of its own that runs echo and llama-server jobs,
# and rig3 a box whose daemon is not running (it shows reconnecting with ssh's error).
eval "$(./scripts/provision-sshd.sh)"
S="$W/ssh"; mkdir -p "$S"
for k in host_key user_key; do ssh-keygen -q -t ed25519 -N '' -f "$S/$k"; done
cp "$S/user_key.pub" "$S/authorized_keys"
SSH_PORT=$(free_port)
cat > "$S/sshd_config" <<CFG
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $S/host_key
AuthorizedKeysFile $S/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding yes
PidFile $S/sshd.pid
LogLevel ERROR
CFG
"$INFERNET_TEST_SSHD" -D -e -f "$S/sshd_config" 2>"$S/sshd.log" & PIDS+=($!)
cat > "$S/ssh_config" <<CFG
Host rig1 rig2 rig3
  HostName 127.0.0.1
  Port $SSH_PORT
  User $(id -un)
  IdentityFile $S/user_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
CFG
RIG2_PORT=$(free_port)
mkdir -p "$W/rig2/infernet"
cat > "$W/rig2/infernet/config.json" <<JSON
{"server": {"port": $RIG2_PORT, "bind": "127.0.0.1"}, "manage_containers": false,
 "containers": [{"id": "echo", "url": "http://127.0.0.1:$ECHO_PORT"}],
 "backends": [{"id": "llm", "kind": "llamacpp", "url": "http://127.0.0.1:$LLM_PORT"}],
 "store": {"path": "$W/rig2/node.db"}, "log": {"path": "$W/rig2/node.log"},
 "ui": {"node_name": "rig2-node"}}
JSON
XDG_CONFIG_HOME="$W/rig2" XDG_DATA_HOME="$W/rig2" "$BIN" start --foreground 2>/dev/null & PIDS+=($!)
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$RIG2_PORT/health" >/dev/null && break; sleep 0.5; done
post2() { curl -s -XPOST "http://127.0.0.1:$RIG2_PORT/api/jobs" -H 'content-type: application/json' -d "$1" >/dev/null; }
for i in 1 2 3 4; do post2 "{\"containers\":[\"echo\"],\"data\":{\"prompt\":\"job $i\"}}"; done
post2 '{"containers":["llm"],"data":{"messages":[{"role":"user","content":"Name a planet."}],"max_tokens":24}}'
tmux -L "$SOCK" new-session -d -s f -x 160 -y 48 \
  "XDG_CONFIG_HOME=$W/xdg INFERNET_SSH_CONFIG=$S/ssh_config COLORTERM=truecolor $BIN tui --host rig1:$W/peer/infernet/daemon.sock --host rig2:$W/rig2/infernet/daemon.sock --host rig3:$W/rig3/infernet/daemon.sock"
for _ in $(seq 1 60); do tmux -L "$SOCK" capture-pane -p -t f | grep -q "2/3 up" && break; sleep 0.5; done
sleep 4
tmux -L "$SOCK" capture-pane -e -p -t f > "$W/fleet.ansi"
"$A2P" "$FONT" "$W/fleet.ansi" screenshots/fleet.png
log "screenshots/fleet.png"
tmux -L "$SOCK" send-keys -t f q

tmux -L "$SOCK" new-session -d -s w -x 160 -y 48 \
  "XDG_CONFIG_HOME=$W/xdg2 LLAMACPP_HOST=http://127.0.0.1:$LLM_PORT COLORTERM=truecolor $BIN tui --config $W/new-config.json"
sleep 2; tmux -L "$SOCK" send-keys -t w Enter; sleep 4
tmux -L "$SOCK" capture-pane -e -p -t w > "$W/wizard.ansi"
"$A2P" "$FONT" "$W/wizard.ansi" screenshots/wizard.png
log "screenshots/wizard.png"

# The control plane's web pages, rendered by headless chromium against a real control plane and
# node after real jobs (the dashboard test, which writes them when asked).
eval "$(./scripts/provision-browser.sh)"
INFERNET_WRITE_SCREENSHOTS=1 cargo test --quiet --test dashboard dashboard_in_a_browser_sqlite >&2
log "screenshots/web-status.png, screenshots/web-dashboard.png"
