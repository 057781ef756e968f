#!/usr/bin/env bash
# The end-to-end delivery benchmark in one command, against the cluster scripts/up.sh started
# (hookd-subscription, hookd-ingest and hookd-worker): runs hookd-bench-e2e for throughput,
# latency at two fixed rates and fan-out, appends the RESULT lines to
# bench/results/e2e-<timestamp>.jsonl and prints them as one table.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

usage() {
  cat <<EOF
Usage: bench/run_e2e.sh [--duration D] [--warmup 5s] [--idle-timeout 180] [-- EXTRA_BENCH_FLAGS...]

Runs hookd-bench-e2e four times against the local cluster of scripts/up.sh:
  1. throughput  --rate 0 --duration 30s
  2. latency     --rate 500 --duration 20s
  3. latency     --rate 2000 --duration 20s
  4. fan-out     --apps 10 --rate 200 --duration 20s
and appends each RESULT line to bench/results/e2e-<UTC timestamp>.jsonl.

  --duration D        the measured window of every run instead of 30s/20s (e.g. 10s)
  --warmup D          warm-up of every run (default 5s)
  --idle-timeout S    before each run, wait up to S seconds for the cluster's due deliveries
                      (an earlier run's backlog) to drain (default 180; 0 = don't wait)
  EXTRA_BENCH_FLAGS   go to every run (e.g. -- --payload_bytes 4096 --drain_timeout 120s)

Environment (defaults are the ports of scripts/up.sh):
  HOOKD_SERVER          hookd-subscription, loopback only (127.0.0.1:50051)
  HOOKD_INGEST_SERVER   hookd-ingest, loopback only (127.0.0.1:50052)
  HOOKD_TOKEN           admin token (default: contents of \$HOOKD_DATA_DIR/admin-token)
  HOOKD_DATABASE_URL    Postgres, only read for the backlog and durability settings
                        (default: scripts/pg.sh url)
  BUILD_DIR             build directory (build)
EOF
}

duration="" warmup=5s idle_timeout=180 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --duration=*) duration="${1#*=}"; shift ;;
    --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
    --warmup=*) warmup="${1#*=}"; shift ;;
    --idle-timeout) idle_timeout="${2:?--idle-timeout needs a value}"; shift 2 ;;
    --idle-timeout=*) idle_timeout="${1#*=}"; shift ;;
    --) shift; extra=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$idle_timeout" =~ ^[0-9]+$ ]] || die "--idle-timeout wants seconds, got: $idle_timeout"

cd "$root"
build_dir="${BUILD_DIR:-build}"
bench="$build_dir/bin/hookd-bench-e2e"
export HOOKD_SERVER="${HOOKD_SERVER:-127.0.0.1:50051}"
export HOOKD_INGEST_SERVER="${HOOKD_INGEST_SERVER:-127.0.0.1:50052}"
if [ -z "${HOOKD_TOKEN:-}" ]; then
  [ -s "$HOOKD_DATA_DIR/admin-token" ] ||
    die "no HOOKD_TOKEN and no $HOOKD_DATA_DIR/admin-token; run scripts/up.sh first"
  HOOKD_TOKEN="$(cat "$HOOKD_DATA_DIR/admin-token")"
fi
export HOOKD_TOKEN

# Build the bench if needed: up.sh builds the services, and this keeps the one-command promise
# after a fresh checkout or an edit of bench/.
[ -d "$build_dir" ] || die "$build_dir not found; run scripts/up.sh (or scripts/build.sh) first"
cmake --build "$build_dir" --target hookd-bench-e2e >/dev/null ||
  die "building hookd-bench-e2e failed (cmake --build $build_dir --target hookd-bench-e2e)"
[ -x "$bench" ] || die "$bench not found; run scripts/build.sh"

workers="$(pgrep -xc hookd-worker 2>/dev/null || true)"
if [ "${workers:-0}" = 0 ]; then
  # Not fatal: a worker may run under another name (a container); the bench's probe delivery
  # fails within --ready_timeout if nothing delivers.
  log "warning: no hookd-worker process found; deliveries will not arrive without one"
fi

db_url="${HOOKD_DATABASE_URL:-$(bash scripts/pg.sh url)}"
sql() { psql "$db_url" -XAtc "$1" 2>/dev/null; }
durability="$(sql "select current_setting('fsync') || ',' || current_setting('synchronous_commit')" ||
  true)"
if [ -n "$durability" ]; then
  durability_note="Postgres fsync=${durability%%,*}, synchronous_commit=${durability#*,}"
else
  durability_note="Postgres settings not readable"
fi

# due_deliveries — deliveries the workers should be working on now (pending or retrying and
# due; held ones of disabled apps wait until infinity), of every tenant; empty when Postgres
# cannot be read. An earlier run's backlog, or the ingest benchmark's, would otherwise share
# the workers with the run being measured.
due_deliveries() {
  sql "select count(*) from deliveries where status in (1, 3) and next_attempt_time <= now()" ||
    true
}

# wait_idle — waits up to --idle-timeout for due_deliveries to reach 0; prints the count left.
wait_idle() {
  local due deadline=$((SECONDS + idle_timeout)) said=0
  while true; do
    due="$(due_deliveries)"
    if [ -z "$due" ] || [ "$due" = 0 ] || [ "$SECONDS" -ge "$deadline" ]; then break; fi
    if [ "$said" = 0 ]; then
      log "waiting up to ${idle_timeout}s for $due due deliveries to drain first"
      said=1
    fi
    sleep 2
  done
  if [ -n "$due" ] && [ "$due" != 0 ]; then
    log "warning: $due deliveries still due; this run shares the workers with them"
  fi
  printf '%s' "${due:-null}"
}

mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
results="bench/results/e2e-$stamp.jsonl"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null | head -1)" ]; then commit="$commit-dirty"; fi

# run NAME DEFAULT_DURATION FLAGS... — one hookd-bench-e2e run; its output goes to the terminal
# and its RESULT line, with when and against what it was measured, to $results. Stops the
# script on a set-up error (exit 2): the next runs would fail the same way.
failed=0
run_out="$(mktemp)"
trap 'rm -f "$run_out"' EXIT
run() {
  local name="$1" run_duration="${duration:-$2}" rc=0 due_before line
  shift 2
  due_before="$(wait_idle)"
  log "run $name: hookd-bench-e2e $* --duration $run_duration --warmup $warmup ${extra[*]}"
  # tee's own stdout onto our stderr rather than `tee /dev/stderr`: reopening /dev/stderr
  # starts at offset 0 and overwrites a log file that stderr is redirected to.
  "$bench" --target "$HOOKD_INGEST_SERVER" --server "$HOOKD_SERVER" \
    --duration "$run_duration" --warmup "$warmup" "$@" "${extra[@]}" | tee "$run_out" >&2 ||
    rc=$?
  line="$(grep '^RESULT ' "$run_out" | tail -1 || true)"
  if [ -n "$line" ]; then
    jq -c --arg time "$stamp" --arg commit "$commit" --arg run "$name" \
      --arg durability "$durability_note" --argjson exit "$rc" --arg workers "${workers:-0}" \
      --argjson due "$due_before" \
      '{time: $time, commit: $commit, run: $run} + . +
       {exit_status: $exit, postgres: $durability, hookd_workers: ($workers | tonumber),
        due_deliveries_before: $due}' <<<"${line#RESULT }" >>"$results"
  fi
  if [ "$rc" = 2 ]; then
    die "run $name: set-up error (exit 2); see the message above"
  elif [ "$rc" != 0 ]; then
    log "run $name failed with exit status $rc"
    failed=1
  fi
}

run throughput 30s --rate 0
run latency-500 20s --rate 500
run latency-2000 20s --rate 2000
run fanout-10 20s --apps 10 --rate 200

[ -s "$results" ] || die "no RESULT line was produced; see the output above"
echo
echo "hookd end-to-end benchmark ($stamp, commit $commit) -> $results"
echo "$durability_note; ${workers:-0} hookd-worker process(es); latency = publish -> receipt."
{
  printf 'run\trate\tapps\tevents\tdeliveries\treceived\tdup\tbacklog\tdeliv/s\tp50_ms\tp95_ms\tp99_ms\tmax_ms\texit\n'
  jq -r '[.run, (if .rate_offered == 0 then "max" else .rate_offered end), .apps,
          .events_published, .deliveries_expected, .deliveries_received, .duplicates,
          .backlog_at_end, .deliveries_per_s, .p50_ms, .p95_ms, .p99_ms, .max_ms,
          .exit_status] | @tsv' "$results"
} | column -t -s $'\t'
exit "$failed"
