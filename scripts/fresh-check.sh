#!/usr/bin/env bash
# Proves the install steps on a fresh Debian 12: builds a `debootstrap --variant=minbase
# bookworm` root (mirror from this machine's apt sources), adds a package real images carry
# that looks like a prerequisite but is not one (libclang-cpp14: LLVM's C++ library, not
# libclang), runs the project's install steps inside it (build-deps.sh, provision-docker.sh
# --install-only, provision-chain.sh, provision-cp.sh, provision-schemathesis.sh) and checks each prerequisite for real:
# libclang dlopen()ed by a C program, cmake configuring a C++ project, make, node and npm,
# anvil, the PostgreSQL server binaries (a cluster is started), the Python venv with openai,
# dockerd. Needs root (chroot). Exit 0 when every check holds.
#
#   scripts/fresh-check.sh                         # the checks above
#   scripts/fresh-check.sh --build-deps OLD.sh     # the same with another build-deps script
#   FRESH_STEPS="build-deps" scripts/fresh-check.sh # only some steps (build-deps docker chain cp)
#
# The minbase root is made once and kept as a tarball (~/.cache/infernet-ci/fresh); each run
# unpacks a new copy, so every run starts from a fresh system.
set -euo pipefail
BUILD_DEPS=scripts/build-deps.sh
if [ "${1:-}" = "--build-deps" ]; then BUILD_DEPS=$(realpath "${2:?--build-deps needs a path}"); fi
cd "$(dirname "$0")/.."
log() { printf '==> %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root (debootstrap and chroot)"; exit 2; }

STEPS="${FRESH_STEPS:-build-deps docker chain cp}"
CACHE="${INFERNET_CI_CACHE:-$HOME/.cache/infernet-ci}/fresh"
TARBALL="$CACHE/bookworm-minbase.tgz"
ROOT=$(mktemp -d /tmp/infernet-fresh.XXXXXX)
chmod 755 "$ROOT" # it becomes "/": mktemp's 0700 would lock out every user but root

# Debian's mirror as this machine's apt is set up (deb822 or one-line sources).
mirror() {
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | grep '/debian/\?$' | head -n 1 || true)
  [ -n "$m" ] || m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep '/debian/\?$' | head -n 1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=$(mirror)

cleanup() {
  # PostgreSQL started inside keeps files open; stop whatever runs from the root.
  for p in $(ls /proc | grep -E '^[0-9]+$' || true); do
    if [ "$(readlink "/proc/$p/root" 2>/dev/null)" = "$ROOT" ]; then kill -9 "$p" 2>/dev/null || true; fi
  done
  for m in dev/pts dev proc sys; do umount -l "$ROOT/$m" 2>/dev/null || true; done
  # Never delete through a mount that is still there (the host's /dev is bound in).
  if [ -n "$(findmnt -rn -o TARGET | grep -F "$ROOT" || true)" ]; then
    log "mounts remain under $ROOT; leaving it in place"
    return
  fi
  rm -rf --one-file-system "$ROOT"
}
trap cleanup EXIT

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [ ! -f "$TARBALL" ]; then
  log "making the bookworm minbase tarball from $MIRROR (once)"
  mkdir -p "$CACHE"
  debootstrap --variant=minbase --make-tarball="$TARBALL.part" bookworm "$ROOT/tmp-make" "$MIRROR" >/dev/null
  mv "$TARBALL.part" "$TARBALL"
  rm -rf "$ROOT/tmp-make"
fi
log "debootstrap --variant=minbase bookworm into $ROOT"
debootstrap --variant=minbase --unpack-tarball="$TARBALL" bookworm "$ROOT" "$MIRROR" >/dev/null

mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts" && mount --make-rslave "$ROOT/dev/pts"
mount -t sysfs sysfs "$ROOT/sys"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mkdir -p "$ROOT/src/scripts"
cp scripts/*.sh "$ROOT/src/scripts/"
cp "$BUILD_DEPS" "$ROOT/src/scripts/build-deps.sh"
in_root() { chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 bash -c "$1"; }

# This machine's extra CA certificates (a TLS-inspecting proxy, a company CA) are part of its
# network setup, like resolv.conf: without them npm and pip cannot reach their registries here.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
fi
log "adding what real images carry: libclang-cpp14, curl, ca-certificates"
in_root 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-cpp14 curl ca-certificates >/dev/null'

fails=0
check() { # name command
  if in_root "$2" >"$ROOT/check.log" 2>&1; then
    log "ok    $1"
  else
    log "FAIL  $1"; sed 's/^/      /' "$ROOT/check.log" >&2; fails=$((fails + 1))
  fi
}
step() { # name script
  log "running $2 in the fresh root"
  if ! in_root "cd /src && $2" >"$ROOT/step.log" 2>&1; then
    log "FAIL  $1: $2 exited non-zero"; tail -n 20 "$ROOT/step.log" | sed 's/^/      /' >&2; fails=$((fails + 1))
  fi
}

case " $STEPS " in *" build-deps "*)
  step build-deps "./scripts/build-deps.sh"
  # bindgen dlopen()s libclang at build time: prove one loads and has the entry point it calls.
  check "libclang loads (dlopen + clang_createIndex)" '
    cat > /tmp/dl.c <<C
#include <dlfcn.h>
#include <stdio.h>
#include <glob.h>
int main(void) {
  const char *pats[] = {"/usr/lib/llvm-*/lib/libclang.so.1", "/usr/lib/*/libclang-*.so.1", 0};
  for (int i = 0; pats[i]; i++) {
    glob_t g; if (glob(pats[i], 0, 0, &g) != 0) continue;
    for (size_t j = 0; j < g.gl_pathc; j++) {
      void *h = dlopen(g.gl_pathv[j], RTLD_NOW);
      if (h && dlsym(h, "clang_createIndex")) { printf("%s\n", g.gl_pathv[j]); return 0; }
    }
  }
  fprintf(stderr, "no loadable libclang.so.1 with clang_createIndex\n"); return 1;
}
C
    gcc -o /tmp/dl /tmp/dl.c -ldl && /tmp/dl'
  check "clang headers for bindgen (stddef.h)" 'ls /usr/lib/llvm-*/lib/clang/*/include/stddef.h'
  check "cmake configures and builds a C++ project" '
    mkdir -p /tmp/cm && cd /tmp/cm &&
    printf "cmake_minimum_required(VERSION 3.13)\nproject(t CXX)\nadd_executable(t t.cpp)\n" > CMakeLists.txt &&
    printf "#include <iostream>\nint main(){std::cout<<\"ok\";}\n" > t.cpp &&
    cmake -S . -B b >/dev/null && cmake --build b >/dev/null && ./b/t'
  ;;
esac
case " $STEPS " in *" docker "*)
  step docker "./scripts/provision-docker.sh --install-only"
  check "dockerd and docker" 'dockerd --version && docker --version'
  ;;
esac
case " $STEPS " in *" chain "*)
  step chain "./scripts/provision-chain.sh > /tmp/chain.env"
  check "node, npm, anvil, solc-js" '. /tmp/chain.env && node --version && npm --version && "$INFERNET_ANVIL_BIN" --version && node -e "require(process.env.SOLCJS_MODULE)"'
  ;;
esac
case " $STEPS " in *" cp "*)
  step cp "./scripts/provision-cp.sh > /tmp/cp.env"
  check "PostgreSQL server answers, Python venv with openai" '. /tmp/cp.env && pg=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1) && "$pg/pg_isready" -d "$INFERNET_TEST_PG_URL" && "$INFERNET_TEST_OPENAI_PYTHON" -c "import openai"'
  step schemathesis "./scripts/provision-schemathesis.sh > /tmp/st.env"
  check "schemathesis runs" '. /tmp/st.env && "$INFERNET_TEST_SCHEMATHESIS" --version'
  ;;
esac

if [ "$fails" -gt 0 ]; then
  log "fresh-system check: $fails check(s) failed"
  exit 1
fi
log "fresh-system check: every prerequisite holds on a fresh bookworm"
