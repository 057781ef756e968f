#!/usr/bin/env bash
# Runs the libFuzzer harnesses of the ASan build (HOOKD_FLAVOR=asan scripts/build.sh), each on
# its seed corpus, and prints one line per harness: runs, executions per second, corpus size.
# Exits non-zero when a harness crashed, leaked, timed out or hit a sanitizer report; the input
# that did it is kept for replay (`build-asan/fuzz/<harness> <file>`).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF2
Usage: scripts/fuzz.sh [--time SECONDS | --runs N] [--jobs J] [HARNESS...]

Runs every harness listed in \$BUILD_DIR/fuzz/harnesses.txt (or only those named) one after
the other: for SECONDS each (default 10, what the suite does), or until N inputs have run
(e.g. --runs 10000000 for a long run). --jobs J runs J harnesses at a time.

Inputs that find new coverage are kept in \$BUILD_DIR/fuzz/corpus/<harness>/, so a long run
continues from where the last one stopped; the seeds in tests/fuzz/corpus/ are never changed
(python3 tests/fuzz/seeds.py rewrites them). Crashes go to \$BUILD_DIR/fuzz/crashes/<harness>/.

Environment: BUILD_DIR (default build-asan).
EOF2
}

time_limit=10
runs=""
jobs=1
harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --time) time_limit="$2"; shift 2 ;;
    --runs) runs="$2"; time_limit=""; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) harnesses+=("$1"); shift ;;
  esac
done

cd "$HOOKD_ROOT"
build_dir="${BUILD_DIR:-build-asan}"
list="$build_dir/fuzz/harnesses.txt"
[ -f "$list" ] || die "$list not found: build with HOOKD_FLAVOR=asan scripts/build.sh first"
if [ ${#harnesses[@]} -eq 0 ]; then
  mapfile -t harnesses < <(awk 'NF == 2 { print $1 }' "$list")
fi

# Sanitizer reports end the run with the stack symbolized; leaks count as failures.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# run_one NAME — one harness; its log goes to $build_dir/fuzz/logs/NAME.log.
run_one() {
  local name="$1" corpus work crashes logf limit
  corpus="$(awk -v n="$name" '$1 == n { print $2 }' "$list")"
  [ -n "$corpus" ] || { log "error: $name is not in $list"; return 1; }
  work="$build_dir/fuzz/corpus/$name"
  crashes="$build_dir/fuzz/crashes/$name"
  logf="$build_dir/fuzz/logs/$name.log"
  mkdir -p "$work" "$crashes" "$(dirname "$logf")"
  if [ -n "$runs" ]; then limit="-runs=$runs"; else limit="-max_total_time=$time_limit"; fi
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: over 2 GiB is a leak or a
  # memory bomb. Both are failures.
  local rc=0
  "$build_dir/fuzz/$name" "$limit" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$corpus" >"$logf" 2>&1 || rc=$?
  local executed per_second size
  executed="$(awk '/stat::number_of_executed_units/ { print $NF }' "$logf")"
  per_second="$(awk '/stat::average_exec_per_sec/ { print $NF }' "$logf")"
  size="$(find "$work" -type f | wc -l)"
  if [ "$rc" -eq 0 ]; then
    printf '%-20s ok      %12s runs %8s/s  corpus %6s\n' "$name" "${executed:-?}" \
      "${per_second:-?}" "$size"
  else
    printf '%-20s FAILED  %12s runs (exit %s): %s\n' "$name" "${executed:-?}" "$rc" "$logf"
    grep -m 5 -E 'ERROR|SUMMARY|runtime error|Test unit written' "$logf" | sed 's/^/    /'
    return 1
  fi
}

start="$(_now_us)"
log "${#harnesses[@]} harnesses, ${runs:+$runs runs}${time_limit:+${time_limit}s} each, $jobs at a time"
failed=0
pids=()
for name in "${harnesses[@]}"; do
  run_one "$name" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=$((failed + 1))
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
elapsed=$((($(_now_us) - start) / 1000000))
if [ "$failed" -ne 0 ]; then
  die "$failed of ${#harnesses[@]} harnesses failed (${elapsed}s)"
fi
log "all ${#harnesses[@]} harnesses passed (${elapsed}s)"
