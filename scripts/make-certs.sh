#!/usr/bin/env bash
# Makes a throwaway certificate authority and certificates for hookd's TLS (README "TLS"): for
# scripts/up.sh --tls, docker-compose's TLS variant and the tests. Never for production: the
# CA's key sits next to the certificates.
#
# Usage: scripts/make-certs.sh DIR [SAN...]
#   DIR/ca.pem, ca.key          the CA (EC P-256, 10 days)
#   DIR/server.pem, server.key  every hookd service's certificate: serverAuth and clientAuth (the
#                               services present it to each other), for localhost, 127.0.0.1 and
#                               each SAN given (a DNS name or an IP address)
#   DIR/client.pem, client.key  a client certificate for hookctl and publishers (clientAuth)
# scripts/make-certs.sh --issue DIR NAME CN [--only] [SAN...]
#   DIR/NAME.pem, NAME.key      another serverAuth+clientAuth certificate from DIR's CA, e.g. to
#                               rotate server.pem by a symlink swap; with --only, for the SANs
#                               given alone (not localhost and 127.0.0.1)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v openssl >/dev/null || die "openssl is missing: run scripts/install-deps.sh"

# issue DIR NAME CN USAGE SAN... — a key and a certificate signed by DIR's CA.
issue() {
  local dir="$1" name="$2" cn="$3" usage="$4"
  shift 4
  local sans="DNS:localhost,IP:127.0.0.1" san
  if [ "${1:-}" = "--only" ]; then
    sans=""
    shift
  fi
  for san in "$@"; do
    if [[ "$san" =~ ^[0-9.]+$ || "$san" == *:*:* ]]; then sans+=",IP:$san"; else sans+=",DNS:$san"; fi
  done
  sans="${sans#,}"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key" 2>/dev/null
  openssl req -new -key "$dir/$name.key" -subj "/CN=$cn" -out "$dir/$name.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$usage" "$sans" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 10 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  # Readable by all: the containers of docker-compose.tls.yml run as uid 10001, not as the user
  # who made these throwaway keys. Real keys belong to the service's user alone.
  chmod 644 "$dir/$name.key"
}

if [ "${1:-}" = "--issue" ]; then
  [ $# -ge 4 ] || die "usage: make-certs.sh --issue DIR NAME CN [SAN...]"
  dir="$2" name="$3" cn="$4"
  shift 4
  [ -f "$dir/ca.pem" ] || die "$dir/ca.pem is missing: run make-certs.sh $dir first"
  issue "$dir" "$name" "$cn" "serverAuth,clientAuth" "$@"
  exit 0
fi

[ $# -ge 1 ] || die "usage: make-certs.sh DIR [SAN...]"
dir="$1"
shift
mkdir -p "$dir"
openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
chmod 600 "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -subj "/CN=hookd throwaway CA" -days 10 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$dir/ca.pem" 2>/dev/null
issue "$dir" server hookd "serverAuth,clientAuth" "$@"
issue "$dir" client hookctl "clientAuth"
log "certificates in $(rel "$dir"): ca.pem, server.pem/.key, client.pem/.key"
