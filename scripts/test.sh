#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs packages, builds, starts a throwaway Postgres
# and Redis only for this run, runs ctest, and always stops both servers and deletes their
# data, whatever happens. Exits with ctest's exit code.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF2
Usage: scripts/test.sh [CTEST_ARGS...]

Builds (scripts/build.sh), starts a private Postgres on 127.0.0.1:\${HOOKD_TEST_PG_PORT:-55433}
and Redis on 127.0.0.1:\${HOOKD_TEST_REDIS_PORT:-56380} in a temporary directory, then runs
  ctest --test-dir \$BUILD_DIR --output-on-failure -j2 --timeout 600 CTEST_ARGS...
Examples: scripts/test.sh -L unit      scripts/test.sh -R app_store --repeat until-fail:3

Tests receive HOOKD_TEST_DATABASE_URL (superuser "postgres", so each suite creates and drops
its own database) and HOOKD_TEST_REDIS_URL. The dev servers of scripts/up.sh are not touched.
EOF2
}
case "${1:-}" in -h | --help) usage; exit 0 ;; esac

cd "$HOOKD_ROOT"
build_dir="${BUILD_DIR:-build}"
pg_port="${HOOKD_TEST_PG_PORT:-55433}"
redis_port="${HOOKD_TEST_REDIS_PORT:-56380}"

# Fail before the build, not after it: a listener on our ports is almost always a server left
# behind by a test run that was killed with SIGKILL, and tests must not share it.
for p in "pg:$pg_port:HOOKD_TEST_PG_PORT" "redis:$redis_port:HOOKD_TEST_REDIS_PORT"; do
  IFS=: read -r what port var <<<"$p"
  if port_in_use "$port"; then
    die "port $port (test $what) is already in use, probably by a stale server from an earlier" \
      "test run; find it with: ss -ltnp 'sport = :$port' and stop it, or set $var to a free port"
  fi
done

bash scripts/build.sh
# The vendors' verification code that the interop tests run (tests/interop): node and npm
# packages, installed once.
bash scripts/install-interop.sh

tmp="$(mktemp -d /tmp/hookd-test.XXXXXX)"
# mktemp makes it 700; postgres (a different user when we are root) must traverse it.
chmod 755 "$tmp"

# shellcheck disable=SC2317  # group_gone and cleanup run from wait_for and the EXIT trap.
# group_gone PGID — true once no live (non-zombie) process is left in process group PGID.
group_gone() {
  ! ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

ctest_pgid=""
# shellcheck disable=SC2317
cleanup() {
  local rc=$?
  set +e
  if [ -n "$ctest_pgid" ]; then
    log "interrupted: stopping ctest and its tests (process group $ctest_pgid)"
    kill -TERM -- "-$ctest_pgid" 2>/dev/null
    wait_for 10 "tests to exit after SIGTERM" group_gone "$ctest_pgid" ||
      kill -KILL -- "-$ctest_pgid" 2>/dev/null
  fi
  if [ "$rc" -ne 0 ]; then
    # Keep the server logs for debugging a failed run; the temp dir itself goes away.
    mkdir -p "$build_dir/test-logs"
    cp "$tmp/pg/postgres.log" "$tmp/redis/redis.log" "$build_dir/test-logs/" 2>/dev/null
    log "server logs copied to $build_dir/test-logs/"
  fi
  bash scripts/redis.sh stop --dir "$tmp/redis"
  bash scripts/pg.sh stop --dir "$tmp/pg"
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
# Turn Ctrl-C and kill into a normal exit so the EXIT trap stops the servers.
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/pg.sh start --dir "$tmp/pg" --port "$pg_port"
bash scripts/redis.sh start --dir "$tmp/redis" --port "$redis_port"

export HOOKD_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/postgres"
export HOOKD_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
log "HOOKD_TEST_DATABASE_URL=$HOOKD_TEST_DATABASE_URL HOOKD_TEST_REDIS_URL=$HOOKD_TEST_REDIS_URL"

# ctest runs in its own process group, waited for in the background: a signal then reaches
# our trap at once (not after ctest ends), and cleanup can stop ctest with every test
# process and service it spawned in one go.
rc=0
setsid ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 600 "$@" &
ctest_pgid=$!
wait "$ctest_pgid" || rc=$?
ctest_pgid=""
log "ctest exited with $rc"
exit "$rc"
