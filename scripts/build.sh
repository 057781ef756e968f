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
  BUILD_DIR         build directory, relative to the repo root (default: build)
  CMAKE_BUILD_TYPE  default RelWithDebInfo
  CCACHE_DIR        default \$HOME/.cache/ccache (used when ccache is installed)
EOF2
}
case "${1:-}" in -h | --help) usage; exit 0 ;; esac

cd "$HOOKD_ROOT"
bash "$HOOKD_ROOT/scripts/install-deps.sh"

build_dir="${BUILD_DIR:-build}"
build_type="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
# A stable cache path makes rebuilds in fresh clones and CI workspaces hit the cache.
export CCACHE_DIR="${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}"

start="$(_now_us)"
log "configure $build_dir ($build_type)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type"
log "build with $(nproc) jobs"
cmake --build "$build_dir" -j"$(nproc)" "$@"
elapsed=$((($(_now_us) - start) / 1000000))
log "built in $((elapsed / 60))m$(printf '%02d' $((elapsed % 60)))s ($build_dir/bin, $build_dir/tests)"
