#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs packages, builds, starts a throwaway Postgres
# and Redis only for this run, runs ctest, and always stops both servers and deletes their
# data, whatever happens. Exits non-zero when a test or fuzz run failed.
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

Without CTEST_ARGS this is the whole suite, as CI runs it: the release build's tests and the
compose test (tests/deploy/compose_e2e.sh: the image built and docker-compose.yml run in a
Docker engine, then again on a Redis Cluster with docker-compose.redis-cluster.yml), then the sanitizer build's (HOOKD_FLAVOR=asan: ASan+UBSan) tests labelled
\`checked\` and a 10-second run of every fuzz harness (scripts/fuzz.sh). HOOKD_FLAVOR picks one
build instead:
  HOOKD_FLAVOR=release  the release build only (with the compose test without CTEST_ARGS)
  HOOKD_FLAVOR=asan     the sanitizer build only: ctest -L checked CTEST_ARGS..., then, without
                        CTEST_ARGS, the fuzz runs
  HOOKD_FLAVOR=tsan     the ThreadSanitizer build (scripts/tsan.sh): ctest CTEST_ARGS...

Tests receive HOOKD_TEST_DATABASE_URL (superuser "postgres", so each suite creates and drops
its own database), HOOKD_TEST_REDIS_URL (and HOOKD_TEST_REDIS_SERVER_URL, the same single server
whatever HOOKD_TEST_REDIS says), and HOOKD_TEST_REDIS_CLUSTER_URL: a Redis Cluster of
three primaries (scripts/redis-cluster.sh) on 127.0.0.1:\${HOOKD_TEST_REDIS_CLUSTER_PORT:-55390}
and the next two ports. The dev servers of scripts/up.sh are not touched.

The whole suite also runs the tests labelled \`both-redis\` (the queue, ingest and worker
e2e suites) a second time with HOOKD_TEST_REDIS_URL set to the cluster's redis+cluster:// url.
HOOKD_TEST_REDIS=cluster gives every test the cluster's url instead of the single server's:
  HOOKD_TEST_REDIS=cluster HOOKD_FLAVOR=release scripts/test.sh
runs the release suite against the cluster.
EOF2
}
case "${1:-}" in -h | --help) usage; exit 0 ;; esac

cd "$HOOKD_ROOT"
if [ -n "${HOOKD_FLAVOR:-}" ]; then
  flavors=("$HOOKD_FLAVOR")
elif [ $# -eq 0 ]; then
  flavors=(release asan)
else
  flavors=(release)
fi
# The build whose tests are running, for keeping server logs beside them on failure.
build_dir=""
# dir_of FLAVOR — its build directory: BUILD_DIR when it is the only flavor running, else the
# flavor's default (build, build-asan, build-tsan).
dir_of() {
  if [ ${#flavors[@]} -eq 1 ] && [ -n "${BUILD_DIR:-}" ]; then
    printf '%s' "$BUILD_DIR"
  elif [ "$1" = release ]; then
    printf 'build'
  else
    printf 'build-%s' "$1"
  fi
}
pg_port="${HOOKD_TEST_PG_PORT:-55433}"
redis_port="${HOOKD_TEST_REDIS_PORT:-56380}"
# A Redis Cluster of three primaries on this port and the next two.
cluster_port="${HOOKD_TEST_REDIS_CLUSTER_PORT:-55390}"

# Fail before the build, not after it: a listener on our ports is almost always a server left
# behind by a test run that was killed with SIGKILL, and tests must not share it.
for p in "pg:$pg_port:HOOKD_TEST_PG_PORT" "redis:$redis_port:HOOKD_TEST_REDIS_PORT" \
  "redis cluster:$cluster_port:HOOKD_TEST_REDIS_CLUSTER_PORT" \
  "redis cluster:$((cluster_port + 1)):HOOKD_TEST_REDIS_CLUSTER_PORT" \
  "redis cluster:$((cluster_port + 2)):HOOKD_TEST_REDIS_CLUSTER_PORT"; do
  IFS=: read -r what port var <<<"$p"
  if port_in_use "$port"; then
    die "port $port (test $what) is already in use, probably by a stale server from an earlier" \
      "test run; find it with: ss -ltnp 'sport = :$port' and stop it, or set $var to a free port"
  fi
done

for flavor in "${flavors[@]}"; do
  # The sanitizer build makes only what its part of the suite runs (CMake target `checked`).
  targets=()
  [ "$flavor" = asan ] && targets=(--target checked)
  HOOKD_FLAVOR="$flavor" BUILD_DIR="$(dir_of "$flavor")" bash scripts/build.sh "${targets[@]}"
done
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
  if [ "$rc" -ne 0 ] && [ -n "$build_dir" ]; then
    # Keep the server logs for debugging a failed run; the temp dir itself goes away.
    mkdir -p "$build_dir/test-logs"
    cp "$tmp/pg/postgres.log" "$tmp/redis/redis.log" "$build_dir/test-logs/" 2>/dev/null
    log "server logs copied to $build_dir/test-logs/"
  fi
  bash scripts/redis.sh stop --dir "$tmp/redis"
  bash scripts/redis-cluster.sh stop --dir "$tmp/redis-cluster"
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
bash scripts/redis-cluster.sh start --dir "$tmp/redis-cluster" --port "$cluster_port"

export HOOKD_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/postgres"
export HOOKD_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export HOOKD_TEST_REDIS_SERVER_URL="$HOOKD_TEST_REDIS_URL"
HOOKD_TEST_REDIS_CLUSTER_URL="$(bash scripts/redis-cluster.sh url --dir "$tmp/redis-cluster")"
export HOOKD_TEST_REDIS_CLUSTER_URL
case "${HOOKD_TEST_REDIS:-server}" in
  server) ;;
  cluster) HOOKD_TEST_REDIS_URL="$HOOKD_TEST_REDIS_CLUSTER_URL" ;;
  *) die "HOOKD_TEST_REDIS must be server or cluster, not '$HOOKD_TEST_REDIS'" ;;
esac
log "HOOKD_TEST_DATABASE_URL=$HOOKD_TEST_DATABASE_URL HOOKD_TEST_REDIS_URL=$HOOKD_TEST_REDIS_URL"
log "HOOKD_TEST_REDIS_CLUSTER_URL=$HOOKD_TEST_REDIS_CLUSTER_URL"

# Sanitizer settings for the checking builds, inherited by the services the e2e tests start. A
# report ends the process with a non-zero exit, so the test fails; tests/sanitizers/ holds the
# suppressions for reports from inside Debian's uninstrumented libraries.
sanitizers="$HOOKD_ROOT/tests/sanitizers"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$sanitizers/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
UBSAN_OPTIONS+=":suppressions=$sanitizers/ubsan.supp"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
TSAN_OPTIONS+=":ignore_noninstrumented_modules=1:suppressions=$sanitizers/tsan.supp"
export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
export TSAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer

# run_ctest DIR ARGS... — ctest in its own process group, waited for in the background: a signal
# then reaches our trap at once (not after ctest ends), and cleanup can stop ctest with every
# test process and service it spawned in one go.
run_ctest() {
  local dir="$1" rc=0
  shift
  build_dir="$dir"
  setsid ctest --test-dir "$dir" --output-on-failure -j2 --timeout 600 "$@" &
  ctest_pgid=$!
  wait "$ctest_pgid" || rc=$?
  ctest_pgid=""
  log "ctest ($dir) exited with $rc"
  return "$rc"
}

for flavor in "${flavors[@]}"; do
  case "$flavor" in
    asan)
      run_ctest "$(dir_of asan)" -L checked "$@"
      if [ $# -eq 0 ]; then
        BUILD_DIR="$(dir_of asan)" bash scripts/fuzz.sh --time 10 --jobs "$(nproc)"
      fi
      ;;
    *)
      run_ctest "$(dir_of "$flavor")" "$@"
      if [ "$flavor" = release ] && [ $# -eq 0 ] && [ "${HOOKD_TEST_REDIS:-server}" = server ]; then
        # The queue, ingest and worker tiers once more, against the Redis Cluster.
        HOOKD_TEST_REDIS_URL="$HOOKD_TEST_REDIS_CLUSTER_URL" run_ctest "$(dir_of release)" \
          -L both-redis
      fi
      # The shipped image and docker-compose.yml, run in a Docker engine (tests/deploy).
      if [ "$flavor" = release ] && [ $# -eq 0 ]; then
        BUILD_DIR="$(dir_of release)" bash tests/deploy/compose_e2e.sh
        BUILD_DIR="$(dir_of release)" bash tests/deploy/compose_e2e.sh --redis-cluster \
          --events 300 --workers 2
      fi
      ;;
  esac
done
