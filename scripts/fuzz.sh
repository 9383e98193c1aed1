#!/usr/bin/env bash
# Fuzzes every parser that reads what the world sends, for a bounded time:
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 s, every target)
# Targets live in fuzz/fuzz_targets (entry points in src/fuzzing.rs); seeds in fuzz/seeds.
# Needs the nightly toolchain (installed on these machines) and cargo-fuzz (installed here if
# missing). The corpus grows outside the clone ($INFERNET_FUZZ_DIR, default
# ~/.cache/infernet/fuzz); a finding is saved under fuzz/artifacts/<target>/ and fails the run.
# FUZZ_SANITIZER=address builds with ASan (slower; the parsers are safe Rust, so the default
# is none: libFuzzer still finds panics, overflows, hangs and memory blowups).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${1:-60}
shift || true
all=(rest_job_body control_plane_body config_text ipc_line signed_envelope backend_stream)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
work=${INFERNET_FUZZ_DIR:-$HOME/.cache/infernet/fuzz}
sanitizer=${FUZZ_SANITIZER:-none}
mkdir -p "$work"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

echo "== building ${#targets[@]} fuzz targets (nightly, sanitizer: $sanitizer)"
cargo +nightly fuzz build -s "$sanitizer" --target-dir "$work/target" >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log"; exit 1; }

failed=0
printf '%-20s %12s %10s %8s %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  log="$work/$t.log"
  rc=0
  cargo +nightly fuzz run -s "$sanitizer" --target-dir "$work/target" "$t" "$corpus" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1 || rc=$?
  runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  speed=$(grep -m1 -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  size=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FINDING (exit $rc): $(ls -t "fuzz/artifacts/$t" | head -1) — see $log"
    failed=1
  fi
  printf '%-20s %12s %10s %8s %s\n' "$t" "$runs" "$speed" "$size" "$result"
done
exit $failed
