#!/usr/bin/env bash
# ThreadSanitizer run: builds hookd with clang -fsanitize=thread into build-tsan/ and runs the
# unit and e2e tiers on it, with a private Postgres and Redis (scripts/test.sh). Not part of CI:
# a TSan build and run take long on two cores. README, "Sanitizers and fuzzing".
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF2
Usage: scripts/tsan.sh [CTEST_ARGS...]

Runs \`HOOKD_FLAVOR=tsan scripts/test.sh -L 'unit|e2e' CTEST_ARGS...\`. A data race or lock
order inversion fails the test that hit it; the report is in its output. Suppressions for
Debian's uninstrumented libraries: tests/sanitizers/tsan.supp.
Example: scripts/tsan.sh -R worker_e2etest
EOF2
}
case "${1:-}" in -h | --help) usage; exit 0 ;; esac

# TSan's runtime maps memory at fixed addresses that high ASLR entropy can collide with; the
# kernel default on Debian 12 is fine, but say why a run dies at start if it is not.
if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)" -gt 28 ]; then
  log "warning: vm.mmap_rnd_bits > 28: TSan binaries may fail to start (sysctl vm.mmap_rnd_bits=28)"
fi
HOOKD_FLAVOR=tsan exec bash "$HOOKD_ROOT/scripts/test.sh" -L 'unit|e2e' "$@"
