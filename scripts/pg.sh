#!/usr/bin/env bash
# A private PostgreSQL 15 for hookd, listening on 127.0.0.1 only, with its data, socket and
# log under one directory. Debian's packaged cluster (port 5432) is neither used nor touched.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: scripts/pg.sh start|stop|status|url [--dir DIR] [--port PORT] [--tls CERTS] [--immediate]

  start   initdb if needed, start on 127.0.0.1:PORT, create role and database "hookd"
          (no-op if already running)
  stop    fast shutdown (no-op if not running); with --immediate, a crash: no checkpoint,
          connections cut, recovery from the WAL at the next start
  status  exit 0 if running, 3 if not
  url     print postgresql://hookd@127.0.0.1:PORT/hookd

  --dir DIR    instance directory (default \$HOOKD_DATA_DIR/pg = $HOOKD_DATA_DIR/pg)
               holding data/, sock/, postgres.log
  --port PORT  TCP port (default \$HOOKD_PG_PORT or 55432; url/status default to the port
               the instance in DIR was started with)
  --tls CERTS  (start) accept TCP connections over TLS only, with CERTS/server.pem and
               server.key (scripts/make-certs.sh): clients need sslmode=require or stricter
EOF
}

cmd="" dir="" port="" tls_certs="" stop_mode=fast
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --dir=*) dir="${1#*=}"; shift ;;
    --port) port="${2:?--port needs a value}"; shift 2 ;;
    --port=*) port="${1#*=}"; shift ;;
    --tls) tls_certs="${2:?--tls needs a directory}"; shift 2 ;;
    --immediate) stop_mode=immediate; shift ;;
    start | stop | status | url)
      [ -z "$cmd" ] || die "only one command allowed (got $cmd and $1)"
      cmd="$1"; shift ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[ -n "$cmd" ] || { usage >&2; exit 2; }
[ -z "$port" ] || [[ "$port" =~ ^[0-9]+$ ]] || die "--port must be a number, got: $port"

dir="${dir:-$HOOKD_DATA_DIR/pg}"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac

# saved_port — the port the instance in $dir was last started with, so `url` and `status`
# agree with `start --port N` without repeating the flag.
saved_port() { cat "$dir/port" 2>/dev/null || true; }

if [ "$cmd" = url ]; then
  # Side-effect free: other scripts call this to build HOOKD_DATABASE_URL.
  port="${port:-$(saved_port)}"
  echo "postgresql://hookd@127.0.0.1:${port:-${HOOKD_PG_PORT:-55432}}/hookd"
  exit 0
fi

[ -x "$HOOKD_PG_BIN/pg_ctl" ] ||
  die "PostgreSQL 15 not found in $HOOKD_PG_BIN; run scripts/install-deps.sh"
[ "$(id -u)" -ne 0 ] || id postgres >/dev/null 2>&1 ||
  die "user 'postgres' missing; run scripts/install-deps.sh (the postgresql package creates it)"

dir="$(pg_traversable_dir "$dir")"
data="$dir/data"
sock="$dir/sock"

# Make PATH belong to the postgres user (when we are root) with owner-only access, as
# postgres requires for its data directory.
own() {
  [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$1"
  chmod 700 "$1"
}

is_running() {
  [ -f "$data/postmaster.pid" ] &&
    as_postgres "$HOOKD_PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

running_port() { sed -n 4p "$data/postmaster.pid" 2>/dev/null || true; }

psql_admin() {
  # -X: ignore ~/.psqlrc; TCP + trust as the bootstrap superuser (see initdb below).
  "$HOOKD_PG_BIN/psql" -X -q -tA -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

ensure_hookd_db() {
  if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'hookd'")" != 1 ]; then
    psql_admin -c 'CREATE ROLE hookd LOGIN CREATEDB'
    log "created role hookd"
  fi
  if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'hookd'")" != 1 ]; then
    psql_admin -c 'CREATE DATABASE hookd OWNER hookd'
    log "created database hookd"
  fi
}

do_start() {
  port="${port:-${HOOKD_PG_PORT:-55432}}"
  if is_running; then
    local rp
    rp="$(running_port)"
    [ "$rp" = "$port" ] ||
      die "already running in $dir on port $rp, not $port; stop it first (scripts/pg.sh stop --dir $dir)"
    ensure_hookd_db
    log "already running on 127.0.0.1:$port ($dir)"
    return 0
  fi
  if port_in_use "$port"; then
    die "port $port is in use by another process; choose one with --port or HOOKD_PG_PORT"
  fi
  # pg_ctl hands -o to /bin/sh, so the socket path is single-quoted there; refuse the few
  # characters that would break that instead of escaping them.
  [[ "$dir" != *[\'\"\\[:space:]]* ]] || die "instance dir must not contain quotes or spaces: $dir"

  mkdir -p "$dir"
  own "$dir"
  if [ ! -f "$data/PG_VERSION" ]; then
    if [ -e "$data" ]; then
      # initdb cleans up after its own errors; a leftover means it was killed midway.
      log "removing incomplete data directory $data"
      rm -rf "$data"
    fi
    local locale=C
    # C.UTF-8 sorts bytewise like C but classifies Unicode; glibc >= 2.35 always has it.
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale=C.UTF-8; fi
    log "initdb $data (locale $locale)"
    # --auth=trust for local and host connections: this instance listens on 127.0.0.1 only
    # and serves one developer machine or one CI run, so passwords would protect nothing.
    if ! as_postgres "$HOOKD_PG_BIN/initdb" -D "$data" -U postgres --auth=trust \
      -E UTF8 --locale="$locale" >"$dir/initdb.log" 2>&1; then
      tail -n 20 "$dir/initdb.log" >&2
      die "initdb failed; full log: $dir/initdb.log"
    fi
  fi
  mkdir -p "$sock"
  own "$sock"

  local sockdir="'$sock'"
  # Unix socket paths are limited to 107 bytes; a deep checkout would exceed that and make
  # postgres refuse to start. Everything here connects over TCP, so drop the socket then.
  if [ $((${#sock} + 20)) -gt 107 ]; then
    log "socket path too long for $sock; Unix socket disabled (TCP only)"
    sockdir="''"
  fi
  local tls_options=""
  if [ -n "$tls_certs" ]; then
    # The key must belong to the server's user, mode 600; TCP without TLS is rejected.
    mkdir -p "$dir/tls"
    cp "$tls_certs/server.pem" "$tls_certs/server.key" "$dir/tls/"
    chmod 600 "$dir/tls/server.key"
    [ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$dir/tls"
    own "$dir/tls"
    printf '%s\n' "local all all trust" "hostssl all all 127.0.0.1/32 trust" \
      "hostnossl all all 127.0.0.1/32 reject" >"$data/pg_hba.conf"
    tls_options="-c ssl=on -c ssl_cert_file='$dir/tls/server.pem' -c ssl_key_file='$dir/tls/server.key'"
  fi
  log "starting on 127.0.0.1:$port (log: $dir/postgres.log)"
  # Default durability on purpose (fsync, synchronous_commit): tests prove that acknowledged
  # events survive crashes, which a non-durable database would quietly falsify.
  if ! as_postgres "$HOOKD_PG_BIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$sockdir $tls_options" \
    start >/dev/null; then
    tail -n 20 "$dir/postgres.log" >&2 || true
    die "pg_ctl start failed; full log: $dir/postgres.log"
  fi
  echo "$port" >"$dir/port"
  wait_for 30 "postgres on 127.0.0.1:$port" "$HOOKD_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" ||
    die "postgres did not accept connections; see $dir/postgres.log"
  ensure_hookd_db
  log "ready: postgresql://hookd@127.0.0.1:$port/hookd"
}

do_stop() {
  if ! is_running; then
    log "not running ($dir)"
    return 0
  fi
  log "stopping ($dir)"
  as_postgres "$HOOKD_PG_BIN/pg_ctl" -D "$data" -m "$stop_mode" -w -t 60 stop >/dev/null
  log "stopped"
}

do_status() {
  if is_running; then
    echo "postgres running on 127.0.0.1:$(running_port) ($dir)"
  else
    echo "postgres not running ($dir)"
    exit 3
  fi
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
esac
