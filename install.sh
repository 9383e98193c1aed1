#!/usr/bin/env sh
# Builds infernet from this source tree with cargo and puts it on PATH (default ~/.local/bin).
# Idempotent: re-running rebuilds and replaces the binary. `--uninstall` removes it (and, with
# --purge, the config directory, after stopping the node).
#
#   ./install.sh [--prefix DIR] [--no-deps]      install DIR/bin/infernet
#   ./install.sh --uninstall [--prefix DIR] [--purge]
#
# INFERNET_BUILD_PROFILE=dev builds a debug binary (faster to build; for development).
set -eu
PREFIX="${HOME}/.local"
ACTION=install
DEPS=1
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "error: --prefix needs a directory" >&2; exit 2; }; PREFIX="$2"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    --no-deps) DEPS=0; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
BIN="$PREFIX/bin/infernet"

if [ "$ACTION" = uninstall ]; then
  if [ -x "$BIN" ]; then
    "$BIN" stop >/dev/null 2>&1 || true
    "$BIN" service uninstall >/dev/null 2>&1 || true
    rm -f "$BIN"
    echo "removed $BIN"
  else
    echo "infernet is not installed at $BIN"
  fi
  if [ "$PURGE" = 1 ]; then
    CFG="${XDG_CONFIG_HOME:-$HOME/.config}/infernet"
    rm -rf "$CFG"
    echo "removed $CFG (config, identity fallback file, logs)"
  fi
  exit 0
fi

cd "$(dirname "$0")"
missing=""
command -v cargo >/dev/null 2>&1 || missing="$missing cargo(https://rustup.rs)"
command -v cc >/dev/null 2>&1 || missing="$missing cc(Debian: apt-get install build-essential)"
if [ -n "$missing" ]; then
  echo "error: missing prerequisites:$missing" >&2
  exit 1
fi
if [ "$DEPS" = 1 ]; then
  ./scripts/build-deps.sh
fi
PROFILE="${INFERNET_BUILD_PROFILE:-release}"
cargo build --locked --profile "$PROFILE" --bin infernet
case "$PROFILE" in dev) OUTDIR=debug ;; *) OUTDIR="$PROFILE" ;; esac
mkdir -p "$PREFIX/bin"
# Through a temporary name and a rename, so a running daemon keeps its old binary intact.
install -m 0755 "${CARGO_TARGET_DIR:-target}/$OUTDIR/infernet" "$BIN.new"
mv -f "$BIN.new" "$BIN"
echo "installed $BIN ($("$BIN" --version))"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "note: $PREFIX/bin is not on your PATH; add it: echo 'export PATH=\"$PREFIX/bin:\$PATH\"' >> ~/.profile" ;;
esac
if ! command -v docker >/dev/null 2>&1; then
  echo "note: Docker is not installed; workflow containers need it (Debian: sudo apt-get install docker.io)"
elif ! docker info >/dev/null 2>&1; then
  echo "note: the Docker engine does not answer; start it (sudo systemctl start docker) or add your user to the docker group"
fi
echo "next: infernet setup   (or infernet tui for the guided dashboard)"
