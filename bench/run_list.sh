#!/usr/bin/env bash
# The ListDeliveries benchmark in one command, on its own: starts a private Postgres
# (scripts/pg.sh) and a hookd-subscription of its own on loopback (which applies the
# migrations), fills 1,000,000 deliveries with hookd-bench-list, times filtered pages over gRPC,
# prints EXPLAIN of every filter's SQL, and appends the RESULT lines to
# bench/results/list-<timestamp>.jsonl. The dev cluster of scripts/up.sh is not touched.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

usage() {
  cat <<EOF
Usage: bench/run_list.sh [--rows N] [--calls N] [--reuse] [--keep] [-- EXTRA_BENCH_FLAGS...]

  --rows N    deliveries to fill (default 1000000)
  --calls N   timed ListDeliveries calls per filter (default 200)
  --reuse     keep the database of the previous run (no new fill; migrations added since are
              applied by hookd-subscription, the rows are not rewritten)
  --keep      leave the private Postgres running afterwards (scripts/pg.sh stop --dir DIR/pg)
EXTRA_BENCH_FLAGS go to hookd-bench-list (see build/bin/hookd-bench-list --help).

Environment:
  BENCH_LIST_DIR       private Postgres and logs (default /tmp/hookd-bench-list)
  BENCH_LIST_PG_PORT   its port (default 55497)
  BENCH_LIST_PORT      hookd-subscription's gRPC port (default 50597)
  BUILD_DIR            build directory (build)
EOF
}

rows=1000000 calls=200 reuse=0 keep=0 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --rows) rows="${2:?--rows needs a value}"; shift 2 ;;
    --calls) calls="${2:?--calls needs a value}"; shift 2 ;;
    --reuse) reuse=1; shift ;;
    --keep) keep=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

cd "$root"
build_dir="${BUILD_DIR:-build}"
bin_dir="$build_dir/bin"
dir="${BENCH_LIST_DIR:-/tmp/hookd-bench-list}"
pg_port="${BENCH_LIST_PG_PORT:-55497}"
port="${BENCH_LIST_PORT:-50597}"
mkdir -p "$dir"

[ -d "$build_dir" ] || die "$build_dir not found; run scripts/build.sh first"
cmake --build "$build_dir" --target hookd-subscription hookd-bench-list >/dev/null ||
  die "building failed (cmake --build $build_dir --target hookd-subscription hookd-bench-list)"

bash scripts/pg.sh start --dir "$dir/pg" --port "$pg_port"
admin_url="postgresql://postgres@127.0.0.1:$pg_port/postgres"
db_url="postgresql://postgres@127.0.0.1:$pg_port/hookd_bench_list"
psql_admin() { "$HOOKD_PG_BIN/psql" -X -q -tA -v ON_ERROR_STOP=1 "$admin_url" "$@"; }
exists="$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'hookd_bench_list'")"
if [ "$reuse" = 0 ] || [ "$exists" != 1 ]; then
  psql_admin -c 'DROP DATABASE IF EXISTS hookd_bench_list WITH (FORCE)'
  psql_admin -c 'CREATE DATABASE hookd_bench_list'
  log "fresh database hookd_bench_list"
fi

# The key must stay the same for --reuse (the apps' secrets are encrypted with it).
[ -s "$dir/master-key" ] || (umask 077 && openssl rand -base64 32 >"$dir/master-key")
token="$(openssl rand -hex 16)"

sub_pid=""
cleanup() {
  if [ -n "$sub_pid" ] && pid_alive "$sub_pid"; then
    kill -TERM "$sub_pid" 2>/dev/null || true
    wait "$sub_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 0 ]; then bash scripts/pg.sh stop --dir "$dir/pg" || true; fi
}
trap cleanup EXIT

port_in_use "$port" && die "port $port is in use; set BENCH_LIST_PORT"
# No retention: the fill reaches 30 days back, and a pass removing the oldest rows would run
# beside the measurements.
"$bin_dir/hookd-subscription" --listen "127.0.0.1:$port" --database_url "$db_url" \
  --admin_token "$token" --master_key "$(cat "$dir/master-key")" --retention 0 \
  >"$dir/subscription.log" 2>&1 &
sub_pid=$!
wait_for 60 "hookd-subscription on 127.0.0.1:$port" port_in_use "$port" || {
  tail -n 20 "$dir/subscription.log" >&2
  die "hookd-subscription did not start; see $dir/subscription.log"
}

mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
results="bench/results/list-$stamp.jsonl"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null | head -1)" ]; then commit="$commit-dirty"; fi
# The indexes of deliveries the run had, recorded with each result for before/after comparisons.
indexes="$("$HOOKD_PG_BIN/psql" -X -q -tA "$db_url" -c "SELECT string_agg(indexname, ','
  ORDER BY indexname) FROM pg_indexes WHERE tablename = 'deliveries'")"

rc=0
out="$(HOOKD_TOKEN="$token" "$bin_dir/hookd-bench-list" --server "127.0.0.1:$port" \
  --database_url "$db_url" --rows "$rows" --calls "$calls" "${extra[@]}" | tee /dev/stderr)" || rc=$?
grep '^RESULT ' <<<"$out" | while IFS= read -r line; do
  jq -c --arg time "$stamp" --arg commit "$commit" --arg indexes "$indexes" --argjson exit "$rc" \
    '{time: $time, commit: $commit} + . + {deliveries_indexes: ($indexes | split(",")), exit_status: $exit}' \
    <<<"${line#RESULT }" >>"$results"
done
[ -s "$results" ] || die "no RESULT line was produced (exit status $rc); see the output above"
echo
echo "hookd ListDeliveries benchmark ($stamp, commit $commit) -> $results"
{
  printf 'filter\tcalls\tp50_ms\tp99_ms\tmax_ms\texplain_ms\tindex\tmet\n'
  jq -r '[.filter, .calls, .p50_ms, .p99_ms, .max_ms, .explain_execution_ms,
          (.indexes | join(",")), .met] | @tsv' "$results"
} | column -t -s $'\t'
exit "$rc"
