#!/usr/bin/env sh
# Builds infernet from this source tree and installs the binary (default: ~/.local/bin).
# Usage: ./install.sh [--prefix DIR]
set -eu
PREFIX="${HOME}/.local"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    -h|--help) echo "usage: ./install.sh [--prefix DIR]   (installs DIR/bin/infernet)"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")"
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install the Rust toolchain first (https://rustup.rs)" >&2
  exit 1
fi
./scripts/build-deps.sh
cargo build --release --locked --bin infernet
mkdir -p "$PREFIX/bin"
install -m 0755 "${CARGO_TARGET_DIR:-target}/release/infernet" "$PREFIX/bin/infernet"
echo "installed $PREFIX/bin/infernet"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "note: add $PREFIX/bin to your PATH" ;;
esac
if ! command -v docker >/dev/null 2>&1; then
  echo "note: Docker is not installed; managed containers need it (Debian: apt-get install docker.io)"
elif ! docker info >/dev/null 2>&1; then
  echo "note: the Docker engine does not answer; start it (systemctl start docker) or add your user to the docker group"
fi
"$PREFIX/bin/infernet" --version
