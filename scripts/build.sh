#!/usr/bin/env bash
# Installs missing Debian packages, then configures and builds hookd with CMake + Ninja.
# Executables land in $BUILD_DIR/bin, test binaries in $BUILD_DIR/tests.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF2
Usage: scripts/build.sh [CMAKE_BUILD_ARGS...]

Runs scripts/install-deps.sh, configures with Ninja and builds with -j\$(nproc).
Extra arguments go to \`cmake --build\`, e.g. \`scripts/build.sh --target hookctl\`.

Environment:
  HOOKD_FLAVOR      what to build (default: release):
                      release  gcc, CMAKE_BUILD_TYPE, into build/
                      asan     clang -O1 with AddressSanitizer and UndefinedBehaviorSanitizer, and
                               the libFuzzer harnesses, into build-asan/ (README, "Sanitizers
                               and fuzzing")
                      tsan     clang -O1 with ThreadSanitizer, into build-tsan/ (scripts/tsan.sh)
  BUILD_DIR         build directory, relative to the repo root (default: per flavor, above)
  CMAKE_BUILD_TYPE  release flavor only; default RelWithDebInfo
  CCACHE_DIR        default \$HOME/.cache/ccache (used when ccache is installed)
EOF2
}
case "${1:-}" in -h | --help) usage; exit 0 ;; esac

cd "$HOOKD_ROOT"

flavor="${HOOKD_FLAVOR:-release}"
# The checking builds use -O1 (fast enough to run the e2e tests, and keeps stacks readable) and
# only line tables for debug info, which compile much faster than full -g.
checked_flags=(-DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=None
  "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only")
case "$flavor" in
  release)
    build_dir="${BUILD_DIR:-build}"
    build_type="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
    config=(-DCMAKE_BUILD_TYPE="$build_type")
    ;;
  asan)
    build_dir="${BUILD_DIR:-build-asan}"
    build_type="ASan+UBSan, fuzzers"
    config=("${checked_flags[@]}" -DHOOKD_SANITIZE=address,undefined -DHOOKD_FUZZ=ON)
    ;;
  tsan)
    build_dir="${BUILD_DIR:-build-tsan}"
    build_type="TSan"
    config=("${checked_flags[@]}" -DHOOKD_SANITIZE=thread
      "-DHOOKD_SANITIZE_IGNORELIST=$HOOKD_ROOT/tests/sanitizers/tsan_ignorelist.txt")
    ;;
  *) die "HOOKD_FLAVOR must be release, asan or tsan; got '$flavor'" ;;
esac
if [ "$flavor" = release ]; then
  bash "$HOOKD_ROOT/scripts/install-deps.sh"
else
  bash "$HOOKD_ROOT/scripts/install-deps.sh" --with-clang
fi
# A stable cache path makes rebuilds in fresh clones and CI workspaces hit the cache.
export CCACHE_DIR="${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}"

start="$(_now_us)"
log "configure $build_dir ($build_type)"
cmake -S . -B "$build_dir" -G Ninja "${config[@]}"
log "build with $(nproc) jobs"
cmake --build "$build_dir" -j"$(nproc)" "$@"
elapsed=$((($(_now_us) - start) / 1000000))
log "built in $((elapsed / 60))m$(printf '%02d' $((elapsed % 60)))s ($build_dir/bin, $build_dir/tests)"
