#!/usr/bin/env bash
# Installs what building infernet needs beyond the Rust toolchain, idempotently: cmake, a C++
# compiler, make and a loadable libclang (bindgen, for the embedded llama.cpp engine,
# cargo feature `embedded`). Each check looks for the exact thing the build uses, not a
# look-alike: `libclang-cpp.so.14` (LLVM's C++ library, on many images) is not libclang.
# `--check` only reports what is missing (exit 1 when something is).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# A libclang that clang-sys can dlopen: libclang.so.1 or libclang-N.so.1 (or the unversioned
# dev link), whose own dependencies all resolve. Prints its path.
find_libclang() {
  local dirs=() f
  [ -n "${LIBCLANG_PATH:-}" ] && dirs+=("$LIBCLANG_PATH")
  dirs+=(/usr/lib/llvm-*/lib /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib)
  for d in "${dirs[@]}"; do
    [ -d "$d" ] || continue
    for f in "$d"/libclang.so.1 "$d"/libclang-[0-9]*.so.1 "$d"/libclang.so "$d"/libclang-[0-9]*.so; do
      [ -e "$f" ] || continue
      # ldd resolves the dependencies without running anything; "not found" means dlopen fails.
      # (not `ldd | grep -q`: under pipefail grep's early exit can make ldd fail with SIGPIPE)
      if ldd "$f" >/dev/null 2>&1 && [ -z "$(ldd "$f" 2>/dev/null | grep 'not found' || true)" ]; then
        echo "$f"
        return 0
      fi
    done
  done
  return 1
}

# clang's own headers (stddef.h …), which bindgen needs next to libclang.
have_clang_headers() { ls /usr/lib/llvm-*/lib/clang/*/include/stddef.h >/dev/null 2>&1; }

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
if ! find_libclang >/dev/null || ! have_clang_headers; then missing+=(libclang-dev); fi

if [ "${1:-}" = "--check" ]; then
  if [ ${#missing[@]} -gt 0 ]; then echo "missing: ${missing[*]}" >&2; exit 1; fi
  echo "libclang: $(find_libclang)" >&2
  exit 0
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
# Prove it: every prerequisite is there now.
lib=$(find_libclang) || { echo "error: no loadable libclang.so.1 after installing libclang-dev" >&2; exit 1; }
have_clang_headers || { echo "error: clang's headers (stddef.h) are missing after installing libclang-dev" >&2; exit 1; }
for c in cmake g++ make; do
  command -v "$c" >/dev/null 2>&1 || { echo "error: $c is still missing" >&2; exit 1; }
done
printf '==> build prerequisites ok (libclang %s)\n' "$lib" >&2
