#!/usr/bin/env bash
# Installs every Debian 12 package hookd needs to build, test and run. Safe to run again:
# it only calls apt when something is missing, so a warm machine starts in a second.
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

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged clusters and redis on their default ports; hookd runs its own
# private instances on other ports, so the packaged ones are left alone.
echo "install-deps: done"
