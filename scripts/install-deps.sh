#!/usr/bin/env bash
# Installs every Debian 12 package hookd needs to build, test and run (--with-clang: also the
# clang checking builds). Safe to run again: it only calls apt when something is missing, so a
# warm machine starts in a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libpqxx-dev libpq-dev libhiredis-dev libssl-dev libcurl4-openssl-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libsimdjson-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev libjemalloc-dev libhpdf-dev poppler-utils
  libevent-dev
  postgresql postgresql-15 postgresql-contrib redis-server
  curl ca-certificates openssl procps iproute2 python3 docker-compose
)
# postgresql-15 is named because scripts/pg.sh runs /usr/lib/postgresql/15/bin directly;
# openssl generates the dev admin token and master key (scripts/up.sh); procps (ps) and
# iproute2 (ss) let the scripts check processes and ports; libhpdf-dev (libharu) writes
# hookctl's PDF export, and poppler-utils (pdftotext, pdfinfo) lets the tests read it back.
# libevent-dev: the HTTP receiver of the end-to-end benchmark (bench/e2e_load.cc).

# --with-clang adds what the checking builds (HOOKD_FLAVOR=asan|tsan scripts/build.sh) need:
# clang-14 with its runtimes (libclang-rt-14-dev: ASan, UBSan, TSan, libFuzzer) and llvm-14
# (llvm-symbolizer, for readable sanitizer stacks). The release build and images do without.
if [ "${1:-}" = "--with-clang" ]; then
  packages+=(clang-14 libclang-rt-14-dev llvm-14)
fi

# valijson (JSON Schema validation) is header-only, but Debian's libvalijson-dev depends on Qt5,
# Poco and five other JSON libraries (87 packages). Its headers are unpacked from the package
# into .deps/valijson instead, at build time only; nothing of it is installed or shipped.
install_valijson_headers() {
  local root dir deb
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  dir="$root/.deps/valijson"
  [ -f "$dir/usr/include/valijson/validator.hpp" ] && return 0
  [ -f /usr/include/valijson/validator.hpp ] && return 0
  local tmp
  tmp="$(mktemp -d)"
  chmod 777 "$tmp"  # apt-get download runs as _apt where it can
  if ! (cd "$tmp" && apt-get download -qq libvalijson-dev >/dev/null 2>&1); then
    "${sudo_cmd[@]}" apt-get update -qq
    (cd "$tmp" && apt-get download -qq libvalijson-dev >/dev/null 2>&1)
  fi
  deb="$(ls "$tmp"/libvalijson-dev_*.deb)"
  mkdir -p "$dir"
  dpkg -x "$deb" "$dir"
  rm -rf "$tmp"
  echo "install-deps: valijson headers unpacked into .deps/valijson"
}

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_valijson_headers
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged clusters and redis on their default ports; hookd runs its own
# private instances on other ports, so the packaged ones are left alone.
install_valijson_headers
echo "install-deps: done"
