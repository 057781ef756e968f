#!/usr/bin/env bash
# The chaos soak, long: builds (scripts/build.sh, unless --no-build), then runs
# build/tests/soak_chaostest for --duration of chaos and prints its report (README, "Chaos
# soak"). It starts its own Postgres (scripts/pg.sh), redis-server and hookd services on free
# loopback ports, and stops them however it ends. The output is also kept in
# build/soak-<UTC timestamp>.log.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

usage() {
  cat <<USAGE
Usage: tests/chaos/soak.sh [--duration 10m] [--no-build]

  --duration D   chaos window (Go-style duration: 30m, 1h; default 10m); the ledger check and
                 the report follow it
  --no-build     use what is in \$BUILD_DIR (default build)
USAGE
}

duration=10m build=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --duration=*) duration="${1#*=}"; shift ;;
    --no-build) build=0; shift ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
build_dir="${BUILD_DIR:-$root/build}"
[ "$build" = 0 ] || bash "$root/scripts/build.sh"
[ -x "$build_dir/tests/soak_chaostest" ] || die "no $build_dir/tests/soak_chaostest; build first"
log_file="$build_dir/soak-$(date -u +%Y%m%dT%H%M%SZ).log"
log "chaos soak for $duration; output in $log_file"
HOOKD_SOAK_DURATION="$duration" "$build_dir/tests/soak_chaostest" 2>&1 | tee "$log_file" |
  grep -v '^\[20[0-9][0-9]-'
exit "${PIPESTATUS[0]}"
