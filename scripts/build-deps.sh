#!/usr/bin/env bash
# Installs what building infernet needs beyond the Rust toolchain, idempotently: cmake, a C++
# compiler and libclang for the embedded llama.cpp engine (cargo feature `embedded`).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
if ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 && ! ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
  missing+=(libclang-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  printf '==> installing build prerequisites: %s\n' "${missing[*]}" >&2
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: please install ${missing[*]} with your package manager (or build with --no-default-features)" >&2
    exit 1
  fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
