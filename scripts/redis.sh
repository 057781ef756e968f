#!/usr/bin/env bash
# A private redis-server for hookd on 127.0.0.1 only, with its pidfile, log and AOF under one
# directory. Debian's packaged redis (port 6379) is neither used nor touched.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: scripts/redis.sh start|stop|status|url [--dir DIR] [--port PORT] [--cluster-node]

  start   start redis-server on 127.0.0.1:PORT (no-op if already running)
  stop    shut down and wait until the process is gone (no-op if not running)
  status  exit 0 if running, 3 if not
  url     print redis://127.0.0.1:PORT/0

  --dir DIR    instance directory (default \$HOOKD_DATA_DIR/redis = $HOOKD_DATA_DIR/redis)
               holding redis.pid, redis.log and the append-only file
  --port PORT  TCP port (default \$HOOKD_REDIS_PORT or 56379; url/status default to the
               port the instance in DIR was started with)
  --cluster-node
               start it as a Redis Cluster node (its nodes.conf in DIR, a 2 s node
               timeout) with no slots yet; scripts/redis-cluster.sh makes the cluster
EOF
}

cmd="" dir="" port="" cluster_node=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --cluster-node) cluster_node=1; shift ;;
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --dir=*) dir="${1#*=}"; shift ;;
    --port) port="${2:?--port needs a value}"; shift 2 ;;
    --port=*) port="${1#*=}"; shift ;;
    start | stop | status | url)
      [ -z "$cmd" ] || die "only one command allowed (got $cmd and $1)"
      cmd="$1"; shift ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[ -n "$cmd" ] || { usage >&2; exit 2; }
[ -z "$port" ] || [[ "$port" =~ ^[0-9]+$ ]] || die "--port must be a number, got: $port"

dir="${dir:-$HOOKD_DATA_DIR/redis}"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
pidfile="$dir/redis.pid"

# saved_port — the port the instance in $dir was last started with, so `url`, `status` and
# `stop` agree with `start --port N` without repeating the flag.
saved_port() { cat "$dir/port" 2>/dev/null || true; }

if [ "$cmd" = url ]; then
  port="${port:-$(saved_port)}"
  echo "redis://127.0.0.1:${port:-${HOOKD_REDIS_PORT:-56379}}/0"
  exit 0
fi

command -v redis-server >/dev/null || die "redis-server not found; run scripts/install-deps.sh"

is_running() {
  local pid
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  pid_alive "$pid" && pid_is "$pid" redis-server
}

pong() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

do_start() {
  port="${port:-${HOOKD_REDIS_PORT:-56379}}"
  if is_running; then
    local sp
    sp="$(saved_port)"
    [ "$sp" = "$port" ] ||
      die "already running in $dir on port $sp, not $port; stop it first (scripts/redis.sh stop --dir $dir)"
    wait_for 10 "redis on 127.0.0.1:$port to answer PONG" pong "$port" ||
      die "redis (pid $(cat "$pidfile")) runs but does not answer; see $dir/redis.log"
    log "already running on 127.0.0.1:$port ($dir)"
    return 0
  fi
  if port_in_use "$port"; then
    die "port $port is in use by another process; choose one with --port or HOOKD_REDIS_PORT"
  fi
  mkdir -p "$dir"
  rm -f "$pidfile"
  log "starting on 127.0.0.1:$port (log: $dir/redis.log)"
  # AOF with fsync every second and no RDB snapshots: Redis holds only the pending queue,
  # which Postgres can rebuild (outbox sweep), so one second of exposure is the intended
  # trade-off, and fork-based snapshots would only add latency spikes.
  local cluster_args=()
  if [ "$cluster_node" = 1 ]; then
    cluster_args=(--cluster-enabled yes --cluster-node-timeout 2000
      --cluster-config-file "$dir/nodes.conf")
  fi
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes \
    --pidfile "$pidfile" --logfile "$dir/redis.log" --dir "$dir" \
    --appendonly yes --appendfsync everysec --save "" ${cluster_args[@]+"${cluster_args[@]}"}
  echo "$port" >"$dir/port"
  if ! wait_for 30 "redis on 127.0.0.1:$port to answer PONG" pong "$port"; then
    tail -n 20 "$dir/redis.log" >&2 || true
    die "redis did not start; full log: $dir/redis.log"
  fi
  log "ready: redis://127.0.0.1:$port/0"
}

do_stop() {
  if ! is_running; then
    rm -f "$pidfile"
    log "not running ($dir)"
    return 0
  fi
  local pid sp
  pid="$(cat "$pidfile")"
  sp="$(saved_port)"
  log "stopping pid $pid ($dir)"
  local gone=0
  if [ -n "$sp" ]; then
    # SHUTDOWN NOSAVE skips the RDB dump (none is configured) yet still flushes the AOF.
    redis-cli -h 127.0.0.1 -p "$sp" shutdown nosave >/dev/null 2>&1 || true
    wait_for 10 "redis pid $pid to exit after SHUTDOWN" _pid_gone "$pid" && gone=1
  fi
  if [ "$gone" = 0 ]; then
    # Port unknown or not answering: signal the process from the pidfile instead.
    stop_pid redis-server "$pidfile" 20
  fi
  rm -f "$pidfile"
  log "stopped"
}

do_status() {
  if is_running; then
    echo "redis running on 127.0.0.1:$(saved_port), pid $(cat "$pidfile") ($dir)"
  else
    echo "redis not running ($dir)"
    exit 3
  fi
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
esac
