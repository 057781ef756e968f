#!/usr/bin/env bash
# Stops what scripts/up.sh started: the hookd services, then Redis and Postgres. Data stays in
# $HOOKD_DATA_DIR; `rm -rf .data` after this resets the dev environment completely.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF2
Usage: scripts/down.sh

Stops hookd-worker, hookd-ingest and hookd-subscription (SIGTERM, then SIGKILL after 20 s),
then the dev Redis and Postgres in \$HOOKD_DATA_DIR (default: .data/). Safe to run twice.
EOF2
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; die "unknown argument: $1" ;;
esac

run_dir="$HOOKD_DATA_DIR/run"
# Data plane first, so workers finish in-flight requests while the control plane still runs.
for name in hookd-worker hookd-ingest hookd-subscription demo_receiver; do
  if [ -f "$run_dir/$name.pid" ]; then
    stop_pid "$name" "$run_dir/$name.pid" 20
  fi
done
bash "$HOOKD_ROOT/scripts/redis.sh" stop
bash "$HOOKD_ROOT/scripts/pg.sh" stop
