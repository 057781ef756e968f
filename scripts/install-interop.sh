#!/usr/bin/env bash
# Installs what the interop receivers of tests/interop need: Debian's nodejs and npm (Node 18 on
# Debian 12) when `node` or `npm` is missing, then the vendors' verification libraries pinned by
# tests/interop/package-lock.json. Safe to run again: npm runs only when node_modules is missing
# or older than the lockfile, so a warm machine finishes at once. Prints one line.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

interop_dir="$HOOKD_ROOT/tests/interop"
installed=()

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  installed+=("nodejs npm")
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "node $(node --version) is too old for tests/interop; need 18 or newer"

# npm ci records what it installed in node_modules/.package-lock.json; a lockfile (or
# package.json) changed since then means the modules are stale.
stamp="$interop_dir/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$interop_dir/package-lock.json" -nt "$stamp" ] ||
  [ "$interop_dir/package.json" -nt "$stamp" ]; then
  npm_log="$(mktemp)"
  if ! (cd "$interop_dir" && npm ci --no-audit --no-fund --loglevel=error) >"$npm_log" 2>&1; then
    cat "$npm_log" >&2
    rm -f "$npm_log"
    die "npm ci in $(rel "$interop_dir") failed"
  fi
  rm -f "$npm_log"
  installed+=("tests/interop/node_modules")
fi

if [ ${#installed[@]} -eq 0 ]; then
  echo "install-interop: node $(node --version) and tests/interop/node_modules present"
else
  echo "install-interop: installed ${installed[*]} (node $(node --version))"
fi
