#!/usr/bin/env bash
# The main job from a fresh clone: installs the build prerequisites, builds, and runs
# `infernet` with the given arguments (default: `infernet tui` on the built-in defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-deps.sh
if [ $# -eq 0 ]; then
  set -- tui --defaults
fi
exec cargo run --release --quiet --bin infernet -- "$@"
