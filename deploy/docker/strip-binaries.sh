#!/usr/bin/env bash
# strip-binaries.sh SRC OUT — splits hookd's four executables in SRC into OUT/bin (stripped, what
# the runtime image ships) and OUT/debug (their debug information, <name>.debug). Each stripped
# executable names its .debug file (a GNU debuglink), so gdb and a symbolizer find the symbols
# when OUT/debug is beside them or in gdb's debug-file-directory. Run by deploy/docker/Dockerfile
# and, on binaries built on the host, by tests/deploy/compose_e2e.sh.
set -euo pipefail
src="${1:?usage: strip-binaries.sh SRC OUT}"
out="${2:?usage: strip-binaries.sh SRC OUT}"
mkdir -p "$out/bin" "$out/debug"
src="$(cd "$src" && pwd)"
for name in hookd-subscription hookd-ingest hookd-worker hookctl; do
  objcopy --only-keep-debug --compress-debug-sections "$src/$name" "$out/debug/$name.debug"
  # The debuglink is made from the file's name, so it is added from inside OUT/debug.
  (cd "$out/debug" && objcopy --strip-all --add-gnu-debuglink="$name.debug" "$src/$name" "../bin/$name")
done
