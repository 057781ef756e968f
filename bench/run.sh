#!/usr/bin/env bash
# The hookd benchmark in one command: builds, starts a private cluster on free loopback ports
# (Postgres, Redis, hookd-subscription, hookd-ingest, N hookd-workers), runs hookd-bench-e2e's
# phases against one receiver (the HTTP ceiling, sustained throughput, latency at fixed rates,
# fan-out), samples the peak memory of every hookd process, prints one table and writes the
# figures as JSON to bench/results/run-<UTC timestamp>.json. Everything it started is stopped
# when it ends, however it ends.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

usage() {
  cat <<EOF
Usage: bench/run.sh [--duration 60s] [--latency-duration 20s] [--workers 2] [--quick]
                    [--redis-cluster] [--wal-by-relation] [--update-benchmarks]
                    [-- EXTRA_BENCH_FLAGS...]

Starts a private Postgres, Redis, hookd-subscription, hookd-ingest and N hookd-workers on free
loopback ports under a temporary directory, then runs in one hookd-bench-e2e process, against
one receiver:
  ceiling          POSTs/s of hookd's HTTP sender in a loop, and of wrk if installed
  throughput       sustained deliveries/s (--duration), backlog at the end, and the
                   Postgres WAL written per delivery (pg_stat_wal)
  throughput:D     the same for apps speaking dialect D (stripe: Stripe's signature;
                   videopilot: a payload template and its signature), as a share of the
                   default's (README, "Signature profiles")
  latency:R        publish -> receipt p50/p95/p99 at R = 500, 1000, 2000 events/s
  fanout:10        each event to 10 apps, 200 events/s
and samples VmHWM/VmRSS of each hookd process. Prints one table, writes
bench/results/run-<UTC timestamp>.json, and stops everything it started.

  --duration D           throughput window (default 60s)
  --latency-duration D   window of each latency and fan-out phase (default 20s)
  --ceiling-duration D   window of each ceiling client (default 10s)
  --warmup D             warm-up of each e2e phase (default 5s)
  --workers N            hookd-worker processes (default 2)
  --redis-cluster        a Redis Cluster of three primaries (scripts/redis-cluster.sh, on
                         free ports from 21000) instead of one Redis; the table goes to
                         BENCHMARKS.md's Redis Cluster section
  --wal-by-relation      also print where the throughput phase's WAL went, per delivery and
                         relation (bench/wal_by_relation.sql, pg_walinspect; keeps the WAL
                         of the run on disk meanwhile); saved as bench/results/wal-<stamp>.txt
  --phases LIST          hookd-bench-e2e --phases (default $default_phases)
  --quick                smoke run: 10s throughput, 5s latency, 5s ceiling, 2s warm-ups;
                         marked "quick" in the table and the JSON
  --update-benchmarks    also rewrite the table in BENCHMARKS.md
  --no-build             use what is in \$BUILD_DIR/bin
  --keep                 keep the temporary directory (logs, databases) afterwards
  EXTRA_BENCH_FLAGS      go to hookd-bench-e2e (see build/bin/hookd-bench-e2e --help)

Environment: BUILD_DIR (default build). Installs wrk with apt-get when it is missing and apt
is usable; without it the wrk ceiling reads "n/a".
EOF
}

default_phases="ceiling,throughput,throughput:stripe,throughput:videopilot,latency:500,latency:1000,latency:2000,fanout:10"
command_line="bench/run.sh${*:+ $*}"
duration="" latency_duration="" ceiling_duration="" warmup="" workers=2 quick=false
phases="$default_phases" update_benchmarks=0 do_build=1 keep=0 extra=() redis_cluster=0
wal_by_relation=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --duration=*) duration="${1#*=}"; shift ;;
    --latency-duration) latency_duration="${2:?--latency-duration needs a value}"; shift 2 ;;
    --latency-duration=*) latency_duration="${1#*=}"; shift ;;
    --ceiling-duration) ceiling_duration="${2:?--ceiling-duration needs a value}"; shift 2 ;;
    --ceiling-duration=*) ceiling_duration="${1#*=}"; shift ;;
    --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
    --warmup=*) warmup="${1#*=}"; shift ;;
    --workers) workers="${2:?--workers needs a value}"; shift 2 ;;
    --workers=*) workers="${1#*=}"; shift ;;
    --phases) phases="${2:?--phases needs a value}"; shift 2 ;;
    --phases=*) phases="${1#*=}"; shift ;;
    --quick) quick=true; shift ;;
    --redis-cluster) redis_cluster=1; shift ;;
    --wal-by-relation) wal_by_relation=1; shift ;;
    --update-benchmarks) update_benchmarks=1; shift ;;
    --no-build) do_build=0; shift ;;
    --keep) keep=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$workers" =~ ^[1-9][0-9]?$ ]] || die "--workers wants 1 .. 99, got: $workers"
# --quick only changes the windows not given explicitly.
if [ "$quick" = true ]; then
  duration="${duration:-10s}" latency_duration="${latency_duration:-5s}"
  ceiling_duration="${ceiling_duration:-5s}" warmup="${warmup:-2s}" ceiling_warmup=1s
fi
duration="${duration:-60s}" latency_duration="${latency_duration:-20s}"
ceiling_duration="${ceiling_duration:-10s}" warmup="${warmup:-5s}"
ceiling_warmup="${ceiling_warmup:-2s}"

cd "$root"
build_dir="${BUILD_DIR:-build}"
bin_dir="$(realpath -m "$build_dir/bin")"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
# Connections each client keeps to the receiver: a worker up to its --max_connections_per_host,
# the ceiling's sender loop and wrk as many as they are told (the same number, so the ceilings
# and the workers meet the receiver alike).
worker_connections=64 ceiling_connections=64 wrk_connections=64 wrk_threads=2

if [ "$do_build" = 1 ]; then
  bash scripts/build.sh --target hookd-subscription hookd-ingest hookd-worker hookctl \
    hookd-bench-e2e
fi
for bin in hookd-subscription hookd-ingest hookd-worker hookctl hookd-bench-e2e; do
  [ -x "$bin_dir/$bin" ] || die "$bin_dir/$bin not found; run scripts/build.sh"
done

# ensure_wrk — installs wrk from Debian when it is missing and apt can be used without a
# password; otherwise the wrk ceiling is skipped, which the table shows as n/a.
ensure_wrk() {
  command -v wrk >/dev/null && return 0
  local sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! sudo -n true 2>/dev/null; then
      log "wrk is not installed and apt-get needs a password; the wrk ceiling is skipped"
      return 0
    fi
    sudo_cmd=(sudo -n)
  fi
  command -v apt-get >/dev/null || { log "wrk is not installed and there is no apt-get"; return 0; }
  log "installing wrk (apt-get install wrk)"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1; then
    "${sudo_cmd[@]}" apt-get update -qq >/dev/null 2>&1 || true
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 ||
      log "could not install wrk; the wrk ceiling is skipped"
  fi
}
ensure_wrk

tmp="$(mktemp -d /tmp/hookd-bench.XXXXXX)"
run_dir="$tmp/run"
mkdir -p "$run_dir"
worker_names=()
for ((i = 1; i <= workers; i++)); do worker_names+=("hookd-worker-$i"); done
services=(hookd-subscription hookd-ingest "${worker_names[@]}")

# shellcheck disable=SC2317  # runs from the EXIT trap.
# cleanup — stops what this script started, data-plane services first, and removes the
# temporary directory (its logs are kept when the run failed, or with --keep).
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  local i name
  for ((i = ${#services[@]} - 1; i >= 0; i--)); do
    name="${services[i]}"
    # stop_pid checks the pid is that program; the workers' program is hookd-worker.
    [ ! -f "$run_dir/$name.pid" ] || stop_pid "${name%-[0-9]*}" "$run_dir/$name.pid" >/dev/null 2>&1
  done
  bash scripts/redis.sh stop --dir "$tmp/redis" >/dev/null 2>&1
  bash scripts/redis-cluster.sh stop --dir "$tmp/redis-cluster" >/dev/null 2>&1
  bash scripts/pg.sh stop --dir "$tmp/pg" >/dev/null 2>&1
  if [ "$keep" = 1 ]; then
    log "kept $tmp (logs in $tmp/run, $tmp/pg/postgres.log, $tmp/redis/redis.log)"
  elif [ "$rc" != 0 ]; then
    rm -rf "$tmp/pg/data" "$tmp/redis/appendonlydir"
    log "run failed (exit $rc); logs kept in $tmp (run/, pg/postgres.log, redis/redis.log)"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# One port each for Postgres, Redis, every service's gRPC and metrics address.
mapfile -t ports < <(free_ports $((2 + 2 * ${#services[@]})))
[ "${#ports[@]}" = $((2 + 2 * ${#services[@]})) ] || die "not enough free loopback ports"
pg_port="${ports[0]}" redis_port="${ports[1]}"
declare -A listen=() metrics=()
for i in "${!services[@]}"; do
  listen[${services[i]}]="127.0.0.1:${ports[2 + 2 * i]}"
  metrics[${services[i]}]="127.0.0.1:${ports[3 + 2 * i]}"
done

bash scripts/pg.sh start --dir "$tmp/pg" --port "$pg_port"
# psql_super SQL — as the bootstrap superuser (scripts/pg.sh) of the run's Postgres.
psql_super() { psql -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
if [ "$wal_by_relation" = 1 ]; then
  # The window's WAL must outlive the checkpoints of the run; what is written does not change.
  psql_super -d postgres -c "ALTER SYSTEM SET wal_keep_size = '32GB'" -c 'SELECT pg_reload_conf()' >/dev/null
  psql_super -d hookd -c 'CREATE EXTENSION IF NOT EXISTS pg_walinspect' >/dev/null
fi
if [ "$redis_cluster" = 1 ]; then
  bash scripts/redis-cluster.sh start --dir "$tmp/redis-cluster" --port auto
  redis_port="$(cat "$tmp/redis-cluster/"node-*/port | sort -n | head -1)"
  HOOKD_REDIS_URL="$(bash scripts/redis-cluster.sh url --dir "$tmp/redis-cluster")"
else
  bash scripts/redis.sh start --dir "$tmp/redis" --port "$redis_port"
  HOOKD_REDIS_URL="$(bash scripts/redis.sh url --port "$redis_port")"
fi
admin_token="$(openssl rand -hex 32)"
HOOKD_DATABASE_URL="$(bash scripts/pg.sh url --port "$pg_port")"
HOOKD_ADMIN_TOKEN="$admin_token"
HOOKD_MASTER_KEY="$(openssl rand -base64 32)"
HOOKD_SUBSCRIPTION_ADDR="${listen[hookd-subscription]}"
# The receiver is a plain-http endpoint on loopback, which production settings refuse.
HOOKD_ALLOW_HTTP=true
HOOKD_PRIVATE_ALLOWLIST=127.0.0.0/8
export HOOKD_DATABASE_URL HOOKD_REDIS_URL HOOKD_ADMIN_TOKEN HOOKD_MASTER_KEY \
  HOOKD_SUBSCRIPTION_ADDR HOOKD_ALLOW_HTTP HOOKD_PRIVATE_ALLOWLIST

# start NAME PROGRAM [FLAGS...] — one service on its ports, logging to $run_dir/NAME.log.
start() {
  local name="$1" program="$2"
  shift 2
  spawn_service "$name" "${listen[$name]}" "${metrics[$name]}" "$run_dir/$name.log" \
    "$run_dir/$name.pid" "$bin_dir/$program" "$@"
}
start hookd-subscription hookd-subscription
# Ready when an authenticated RPC succeeds: Postgres, migrations and auth work.
await_service hookd-subscription "$run_dir/hookd-subscription.pid" \
  "$run_dir/hookd-subscription.log" "$bin_dir/hookctl" --server "${listen[hookd-subscription]}" \
  --token "$admin_token" event-types list
start hookd-ingest hookd-ingest
await_service hookd-ingest "$run_dir/hookd-ingest.pid" "$run_dir/hookd-ingest.log" \
  port_in_use "${listen[hookd-ingest]##*:}"
for name in "${worker_names[@]}"; do
  start "$name" hookd-worker --name "$name" --max_connections_per_host "$worker_connections"
done
for name in "${worker_names[@]}"; do
  await_service "$name" "$run_dir/$name.pid" "$run_dir/$name.log" \
    port_in_use "${listen[$name]##*:}"
done

psql_q() { psql "$HOOKD_DATABASE_URL" -XAtqc "$1"; }
redis_q() { redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }
facts="$tmp/facts.tsv"
# fact KEY VALUE — one machine or run fact for the report.
fact() { printf '%s\t%s\n' "$1" "$2" >>"$facts"; }
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=false
[ -z "$(git status --porcelain 2>/dev/null | head -1)" ] || dirty=true
fact time "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
fact stamp "$stamp"
fact quick "$quick"
fact command "$command_line"
fact commit "$commit"
fact dirty "$dirty"
fact nproc "$(nproc)"
# 1, 5 and 15 minute load averages: other work on the machine moves every figure.
fact loadavg_before "$(cut -d' ' -f1-3 /proc/loadavg)"
fact cpu_model "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
fact mem_total_kib "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
fact kernel "$(uname -sr)"
fact debian "$(cat /etc/debian_version 2>/dev/null || echo unknown)"
fact build_type "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)"
fact postgres_version "$(psql_q 'show server_version')"
fact postgres_fsync "$(psql_q 'show fsync')"
fact postgres_synchronous_commit "$(psql_q 'show synchronous_commit')"
fact redis_version "$(redis_q info server | sed -n 's/^redis_version://p' | tr -d '\r')"
fact redis_appendonly "$(redis_q config get appendonly | tail -1)"
fact redis_appendfsync "$(redis_q config get appendfsync | tail -1)"
if [ "$redis_cluster" = 1 ]; then fact redis_topology "cluster of 3 primaries"; else fact redis_topology "one server"; fi
fact wrk_version "$(wrk -v 2>&1 | head -1 | awk '/^wrk/ {print $2}')"
fact workers "$workers"
fact worker_max_connections_per_host "$worker_connections"
fact phases "$phases"
fact duration "$duration"
fact latency_duration "$latency_duration"
fact ceiling_duration "$ceiling_duration"
fact warmup "$warmup"

log "cluster up in $tmp: Postgres :$pg_port, Redis :$redis_port, ${#services[@]} hookd processes"
bench_out="$tmp/bench.out"
bench_rc=0
HOOKD_TOKEN="$admin_token" "$bin_dir/hookd-bench-e2e" \
  --target "${listen[hookd-ingest]}" --server "${listen[hookd-subscription]}" \
  --phases "$phases" --duration "$duration" --latency_duration "$latency_duration" \
  --warmup "$warmup" --ceiling_duration "$ceiling_duration" --ceiling_warmup "$ceiling_warmup" \
  --ceiling_connections "$ceiling_connections" --wrk_connections "$wrk_connections" \
  --wrk_threads "$wrk_threads" --database_url "$HOOKD_DATABASE_URL" "${extra[@]}" |
  tee "$bench_out" || bench_rc=$?
# A Ctrl-C reaches the bench too; it prints what it measured and exits 130.
[ "$bench_rc" != 130 ] || exit 130

if [ "$wal_by_relation" = 1 ]; then
  read -r wal_start wal_end wal_deliveries < <(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        r = json.loads(line[7:])
        if r["phase"] == "throughput" and r.get("wal_start_lsn"):
            print(r["wal_start_lsn"], r["wal_end_lsn"], r["wal_deliveries"])
' "$bench_out") || true
  if [ -n "${wal_deliveries:-}" ]; then
    mkdir -p bench/results
    log "WAL of the throughput phase by relation ($wal_start .. $wal_end, $wal_deliveries deliveries):"
    psql_super -d hookd -P footer=off -F $'\t' -v start="$wal_start" -v end="$wal_end" \
      -v deliveries="$wal_deliveries" -f bench/wal_by_relation.sql |
      column -t -s $'\t' -N relation,bytes/delivery,records/delivery,fpi_bytes/delivery |
      tee "bench/results/wal-$stamp.txt"
  else
    log "warning: no throughput phase with WAL figures; no breakdown"
  fi
fi

# Peak and current resident memory, and CPU time, of every hookd process, before stopping them.
memory="$tmp/memory.tsv"
clk_tck="$(getconf CLK_TCK)"
for name in "${services[@]}"; do
  pid="$(cat "$run_dir/$name.pid")"
  if pid_alive "$pid"; then
    read -r hwm rss < <(awk '/^VmHWM:/ {h = $2} /^VmRSS:/ {r = $2} END {print h, r}' \
      "/proc/$pid/status")
    cpu="$(awk -v t="$clk_tck" '{printf "%.2f", ($14 + $15) / t}' "/proc/$pid/stat")"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$pid" "$hwm" "$rss" "$cpu" >>"$memory"
  else
    log "warning: $name (pid $pid) is not running any more; see $run_dir/$name.log"
    printf '%s\t%s\t\t\t\n' "$name" "$pid" >>"$memory"
  fi
done

# The delivery log in Postgres: every attempt of the run is recorded there. Attempt rows are
# written after the POST, so give the last ones a moment.
attempts=""
for _ in $(seq 20); do
  now="$(psql_q 'select count(*) from attempts' || true)"
  [ "$now" != "$attempts" ] || break
  attempts="$now"
  sleep 0.5
done
fact attempts_logged "${attempts:-}"
fact deliveries_total "$(psql_q 'select count(*) from deliveries' || true)"
# A delivery without a state row succeeded (migration 12).
fact deliveries_succeeded \
  "$(psql_q 'select (select count(*) from deliveries) - (select count(*) from delivery_state)' || true)"
fact deliveries_unfinished \
  "$(psql_q 'select count(*) from delivery_state where status in (1, 3)' || true)"

# CPU seconds Redis (every node) and Postgres (every process of its user, with the reaped
# backends its postmaster counts) spent in the whole run, for the per-component capacity
# figures of deploy/README.md.
redis_cpu=0
if [ "$redis_cluster" = 1 ]; then redis_ports=("$redis_port" $((redis_port + 1)) $((redis_port + 2))); else redis_ports=("$redis_port"); fi
for p in "${redis_ports[@]}"; do
  used="$(redis-cli -h 127.0.0.1 -p "$p" info cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.2f", s}')"
  redis_cpu="$(awk -v a="$redis_cpu" -v b="${used:-0}" 'BEGIN {printf "%.2f", a + b}')"
done
fact redis_cpu_seconds "$redis_cpu"
pg_cpu=0
postmaster="$(head -1 "$tmp/pg/data/postmaster.pid" 2>/dev/null || true)"
for pid in ${postmaster:+$postmaster $(pgrep -P "$postmaster" || true)}; do
  [ -r "/proc/$pid/stat" ] || continue
  pg_cpu="$(awk -v t="$clk_tck" -v a="$pg_cpu" '{printf "%.2f", a + ($14 + $15 + $16 + $17) / t}' "/proc/$pid/stat")"
done
fact postgres_cpu_seconds "$pg_cpu"
fact loadavg_after "$(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p bench/results
report_args=(--results "$bench_out" --facts "$facts" --memory "$memory" --bench-exit "$bench_rc"
  --json "bench/results/run-$stamp.json")
[ "$update_benchmarks" = 0 ] || report_args+=(--update-benchmarks BENCHMARKS.md)
[ "$redis_cluster" = 0 ] || report_args+=(--section cluster)
python3 bench/report.py "${report_args[@]}"
exit "$bench_rc"
