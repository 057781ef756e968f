#!/usr/bin/env bash
# A private Redis Cluster on 127.0.0.1: PRIMARIES primaries with REPLICAS replicas each, one
# scripts/redis.sh instance per node (consecutive ports from PORT, directories DIR/node-<port>),
# joined by `redis-cli --cluster create`. For the Redis Cluster tests; Debian's packaged Redis is
# neither used nor touched.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: scripts/redis-cluster.sh start|stop|url --dir DIR [--port PORT] [--primaries N] [--replicas R]

  start   start the nodes and create the cluster; waits until every node reports
          cluster_state:ok (nodes already running are kept)
  stop    stop every node of DIR
  url     print redis+cluster://127.0.0.1:PORT,... (every node of DIR)

  --dir DIR        the cluster's directory (required)
  --port PORT      first port (default 55390); the nodes take PORT .. PORT+N*(1+R)-1, and
                   each its cluster bus port 10000 higher, so the last must be 55535 or less;
                   "auto": the first such run of ports from 21000 that is free, bus ports too
                   (31000 and up): below the kernel's ephemeral range (32768 and up), where
                   an outgoing connection could take a port between the check and the bind
  --primaries N    default 3
  --replicas R     replicas per primary, default 0
EOF
}

cmd="" dir="" port=55390 primaries=3 replicas=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --port) port="${2:?--port needs a value}"; shift 2 ;;
    --primaries) primaries="${2:?--primaries needs a value}"; shift 2 ;;
    --replicas) replicas="${2:?--replicas needs a value}"; shift 2 ;;
    start | stop | url) cmd="$1"; shift ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  usage >&2
  exit 2
fi
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac

# The node directories of DIR, as started (whatever the flags say now).
node_dirs=()
if [ -d "$dir" ]; then mapfile -t node_dirs < <(find "$dir" -maxdepth 1 -name 'node-*' -type d | sort); fi

do_url() {
  local node addresses=()
  for node in "${node_dirs[@]}"; do addresses+=("127.0.0.1:$(cat "$node/port")"); done
  [ ${#addresses[@]} -gt 0 ] || die "no cluster in $dir"
  (
    IFS=,
    echo "redis+cluster://${addresses[*]}"
  )
}

# first_free_block COUNT — the first port from 21000 that starts COUNT free consecutive ports
# whose bus ports (10000 higher) are free too; fails when none is left below 22768. Both ports
# stay below Linux's ephemeral range (ip_local_port_range, 32768 and up): in it, a client's
# outgoing connection may take a port after the check and before the node binds it (seen under
# the full test suite's load, the node then never answered).
first_free_block() {
  local base p free
  for ((base = 21000; base + $1 - 1 <= 22767; base++)); do
    free=1
    for ((p = base; p < base + $1; p++)); do
      if port_in_use "$p" || port_in_use $((p + 10000)); then free=0 && break; fi
    done
    if [ "$free" = 1 ]; then echo "$base" && return 0; fi
  done
  return 1
}

do_start() {
  local count=$((primaries * (1 + replicas))) i p slots addresses=()
  if [ "$port" = auto ]; then
    port="$(first_free_block "$count")" || die "no $count free ports (and bus ports) in 21000..22767"
  fi
  [ $((port + count - 1)) -le 55535 ] ||
    die "ports $port..$((port + count - 1)): a cluster node's port must be 55535 or less (its bus port is 10000 higher)"
  for ((i = 0; i < count; i++)); do
    p=$((port + i))
    bash "$HOOKD_ROOT/scripts/redis.sh" start --cluster-node --dir "$dir/node-$p" --port "$p"
    addresses+=("127.0.0.1:$p")
  done
  slots="$(redis-cli -p "$port" cluster info | awk -F: '/^cluster_slots_assigned/ {print $2}' | tr -d '\r')"
  if [ "$slots" != 16384 ]; then
    log "creating the cluster: $primaries primaries, $replicas replicas each"
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas "$replicas" --cluster-yes \
      >"$dir/create.log" 2>&1 || {
      cat "$dir/create.log" >&2
      die "redis-cli --cluster create failed"
    }
  fi
  # shellcheck disable=SC2317  # run by wait_for
  cluster_ok() {
    local a
    for a in "${addresses[@]}"; do
      redis-cli -p "${a##*:}" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    done
  }
  wait_for 60 "every node to report cluster_state:ok" cluster_ok ||
    die "the cluster did not become ok; see $dir/create.log and the nodes' redis.log"
  log "ready: $(bash "${BASH_SOURCE[0]}" url --dir "$dir")"
}

case "$cmd" in
  url) do_url ;;
  stop) for node in "${node_dirs[@]}"; do bash "$HOOKD_ROOT/scripts/redis.sh" stop --dir "$node"; done ;;
  start) do_start ;;
esac
