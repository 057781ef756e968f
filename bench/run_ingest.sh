#!/usr/bin/env bash
# The ingest benchmark in one command, against the cluster scripts/up.sh started: prepares the
# tenant `bench` (event type + one app subscribed to `*`), runs hookd-bench-ingest in publish and
# in batch mode, appends both RESULT lines to bench/results/ingest-<timestamp>.jsonl and prints
# them side by side.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

usage() {
  cat <<EOF
Usage: bench/run_ingest.sh [--duration 10s] [--warmup 2s] [-- EXTRA_BENCH_FLAGS...]

Runs hookd-bench-ingest six times against the local cluster of scripts/up.sh:
  1. --mode publish --concurrency 64            (one event per call)
  2. --mode batch --batch_size 500 --concurrency 4
  3, 4. the same with a VideoPilot seed payload (bench/schemas/render.completed.payload.json)
     on video.ready, which has no schema
  5, 6. the same on render.completed, whose JSON Schema (bench/schemas/render.completed.json)
     every payload is checked against
and appends every RESULT line to bench/results/ingest-<UTC timestamp>.jsonl.
EXTRA_BENCH_FLAGS go to every run (e.g. -- --concurrency 32); --payload_bytes changes runs 1
and 2 only, since the others publish the seed payload.

Environment (defaults are the ports of scripts/up.sh):
  HOOKD_SERVER          hookd-subscription, for hookctl (127.0.0.1:50051)
  HOOKD_INGEST_SERVER   hookd-ingest, loopback only (127.0.0.1:50052)
  HOOKD_TOKEN           admin token (default: contents of \$HOOKD_DATA_DIR/admin-token)
  HOOKD_DATABASE_URL    Postgres, only read to report its durability settings
                        (default: scripts/pg.sh url)
  BUILD_DIR             build directory (build)
EOF
}

duration=10s warmup=2s extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --duration=*) duration="${1#*=}"; shift ;;
    --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
    --warmup=*) warmup="${1#*=}"; shift ;;
    --) shift; extra=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

cd "$root"
build_dir="${BUILD_DIR:-build}"
bin_dir="$build_dir/bin"
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
cmake --build "$build_dir" --target hookd-bench-ingest >/dev/null ||
  die "building hookd-bench-ingest failed (cmake --build $build_dir --target hookd-bench-ingest)"
for bin in hookctl hookd-bench-ingest; do
  [ -x "$bin_dir/$bin" ] || die "$bin_dir/$bin not found; run scripts/build.sh"
done
hookctl=("$bin_dir/hookctl" --server "$HOOKD_SERVER")

# ok_if_exists WHAT CMD... — runs a hookctl create; a second run of this script finds the
# resource there already, which is the state we want, not an error.
ok_if_exists() {
  local what="$1" out rc=0
  shift
  out="$("$@" 2>&1)" || rc=$?
  if [ "$rc" = 0 ]; then
    log "created $what"
  elif grep -qiE 'already[_ ]exists' <<<"$out"; then
    log "$what already exists"
  else
    printf '%s\n' "$out" >&2
    die "$what: hookctl exited with $rc"
  fi
}

ok_if_exists "event type video.ready" \
  "${hookctl[@]}" event-types create video.ready --description "A video finished rendering"
# The same load on a type with a JSON Schema, to show what checking it costs.
ok_if_exists "event type render.completed" \
  "${hookctl[@]}" event-types create render.completed --description "A render finished" \
  --schema "@bench/schemas/render.completed.json"

# app_field FIELD — FIELD of tenant bench's app named "bench", empty when there is none.
app_field() {
  "${hookctl[@]}" --json apps list --tenant bench |
    jq -r --arg f "$1" '[.apps[]? | select(.name == "bench")][0][$f] // empty'
}
if [ -z "$(app_field id)" ]; then
  # bench.invalid never resolves (RFC 2606), so no real endpoint receives the load; --skip-test
  # because the connection test would fail for that very reason.
  ok_if_exists "app bench of tenant bench" "${hookctl[@]}" apps create --tenant bench \
    --name bench --url https://bench.invalid/hook --event-type '*' --skip-test
fi
app_id="$(app_field id)"
[ -n "$app_id" ] || die "app bench of tenant bench not found after creating it"
# A running hookd-worker fails every delivery to bench.invalid and eventually disables the app;
# a disabled app gets no fan-out, which would silently turn the benchmark into events-only.
if [ "$(app_field active)" != true ]; then
  log "re-enabling app $app_id (disabled by earlier failed deliveries)"
  "${hookctl[@]}" apps enable "$app_id" >/dev/null
fi
log "tenant bench: app $app_id subscribed to * -> https://bench.invalid/hook"

# What the numbers were measured against: every OK publish is an fsync'ed Postgres commit here.
db_url="${HOOKD_DATABASE_URL:-$(bash scripts/pg.sh url)}"
durability="$(psql "$db_url" -XAtc "select current_setting('fsync') || ',' ||
  current_setting('synchronous_commit')" 2>/dev/null || true)"
if [ -n "$durability" ]; then
  durability_note="Postgres fsync=${durability%%,*}, synchronous_commit=${durability#*,}"
else
  durability_note="Postgres settings not readable; scripts/pg.sh keeps fsync and synchronous_commit on"
fi

mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
results="bench/results/ingest-$stamp.jsonl"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null | head -1)" ]; then commit="$commit-dirty"; fi
workers="$(pgrep -xc hookd-worker 2>/dev/null || true)"

# run NAME FLAGS... — one hookd-bench-ingest run; its output goes to the terminal and its
# RESULT line, with when/what was measured added, to $results. Returns the bench's status.
failed=0
run() {
  local name="$1" out rc=0
  shift
  log "run $name: hookd-bench-ingest $*"
  out="$("$bin_dir/hookd-bench-ingest" --target "$HOOKD_INGEST_SERVER" --duration "$duration" \
    --warmup "$warmup" --min_deliveries 1 "$@" "${extra[@]}" | tee /dev/stderr)" || rc=$?
  local line
  line="$(grep '^RESULT ' <<<"$out" | tail -1 || true)"
  if [ -n "$line" ]; then
    jq -c --arg time "$stamp" --arg commit "$commit" --arg durability "$durability_note" \
      --argjson exit "$rc" --arg workers "${workers:-0}" \
      '{time: $time, commit: $commit} + . +
       {exit_status: $exit, postgres: $durability, hookd_workers: ($workers | tonumber)}' \
      <<<"${line#RESULT }" >>"$results"
  fi
  if [ "$rc" != 0 ]; then
    log "run $name failed with exit status $rc"
    failed=1
  fi
}

run publish --mode publish --concurrency 64
run batch --mode batch --batch_size 500 --concurrency 4
# A seed payload, first on a type without a schema, then on one whose schema checks it: the
# difference is the cost of the check.
seed=(--payload_file bench/schemas/render.completed.payload.json)
run publish-seed --mode publish --concurrency 64 "${seed[@]}"
run batch-seed --mode batch --batch_size 500 --concurrency 4 "${seed[@]}"
run publish-schema --mode publish --concurrency 64 "${seed[@]}" --event_type render.completed
run batch-schema --mode batch --batch_size 500 --concurrency 4 "${seed[@]}" \
  --event_type render.completed

[ -s "$results" ] || die "no RESULT line was produced; see the output above"
echo
echo "hookd-ingest benchmark ($stamp, commit $commit) -> $results"
echo "$durability_note: each OK answer waited for a durable commit."
if [ "${workers:-0}" != 0 ]; then
  echo "note: $workers hookd-worker process(es) ran alongside and shared the CPU."
fi
{
  printf 'mode\tevent_type\tpayload_B\tin_flight\tevents/call\tevents/s\tcalls/s\tp50_ms\tp90_ms\tp99_ms\tmax_ms\terrors\n'
  jq -r '[.mode, .event_type, .payload_bytes, .concurrency, .batch_size, .events_per_s,
          .calls_per_s, .p50_ms, .p90_ms, .p99_ms, .max_ms, (.errors + .event_errors)] | @tsv' \
    "$results"
} | column -t -s $'\t'
exit "$failed"
