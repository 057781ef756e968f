# shellcheck shell=bash
# Helpers sourced by the other scripts in scripts/. Not meant to be run directly.
# Usage: source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Provides: HOOKD_ROOT, HOOKD_DATA_DIR, HOOKD_PG_BIN, log, die, rel, wait_for, port_in_use,
# free_ports, pid_alive, stop_pid, spawn_service, await_service, as_postgres, pg_traversable_dir.

# Resolved from this file's location, so scripts work from any working directory.
HOOKD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HOOKD_ROOT
# Everything the dev environment writes (databases, logs, pidfiles, generated secrets) lives
# here; it is git-ignored and `rm -rf .data` resets the environment.
HOOKD_DATA_DIR="${HOOKD_DATA_DIR:-$HOOKD_ROOT/.data}"
export HOOKD_DATA_DIR
# Debian 12's only PostgreSQL; the versioned directory avoids postgresql-common's wrappers,
# which pick clusters from /etc/postgresql and would talk to Debian's packaged cluster.
HOOKD_PG_BIN="${HOOKD_PG_BIN:-/usr/lib/postgresql/15/bin}"

# log MSG... — timestamped, tagged by script name, on stderr so stdout stays parseable
# (e.g. `pg.sh url`).
log() {
  printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "$(basename "${0%.sh}")" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

# rel PATH — PATH as the user can type it from the current directory.
rel() { case "$1" in "$PWD"/*) printf '%s' "${1#"$PWD"/}" ;; *) printf '%s' "$1" ;; esac; }

# _now_us — monotonic-enough wall clock in microseconds (bash 5 EPOCHREALTIME; the separator
# is locale dependent, hence both).
_now_us() {
  local t="${EPOCHREALTIME//[.,]/}"
  printf '%s' "$((10#$t))"
}

# wait_for SECONDS DESCRIPTION CMD [ARGS...] — runs CMD every 0.1 s until it succeeds.
# Polling instead of fixed sleeps keeps warm starts fast and slow machines correct.
# Returns 1 with a message naming DESCRIPTION if CMD has not succeeded within SECONDS.
wait_for() {
  local seconds="$1" what="$2"
  shift 2
  local deadline=$(($(_now_us) + seconds * 1000000))
  while true; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if (($(_now_us) >= deadline)); then
      log "error: timed out after ${seconds}s waiting for ${what} (last check: $*)"
      return 1
    fi
    sleep 0.1
  done
}

# port_in_use PORT — true if something listens on TCP PORT on loopback or any address.
port_in_use() {
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    # ss sees listeners without connecting, so server logs stay free of probe noise.
    [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# free_ports N — prints N distinct TCP ports, one a line, that nothing listens on now, picked
# at random from 20000-32767: clear of the dev cluster's and the tests' fixed ports, and below
# Linux's ephemeral range (32768+), so outgoing connections do not take one before it is bound.
free_ports() {
  local n="$1" port tries=0
  local -A picked=()
  while [ "${#picked[@]}" -lt "$n" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 1000 ] || { log "error: no free port found in 20000-32767"; return 1; }
    port=$((20000 + RANDOM % 12768))
    [ -z "${picked[$port]:-}" ] || continue
    port_in_use "$port" && continue
    picked[$port]=1
    echo "$port"
  done
}

# pid_alive PID — true if PID runs. A zombie counts as gone: PID 1 on some container and VM
# images never reaps orphans, and `kill -0` succeeds on zombies.
pid_alive() {
  local pid="$1" state
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [ "$state" != "Z" ]
}

# pid_is PID NAME — true if PID is a NAME process (its name, cut at 15 characters by the
# kernel, or its command line mentions NAME), so a pidfile left by a crash never makes us
# signal an unrelated process that reused the pid.
pid_is() {
  local pid="$1" name="$2" comm cmdline
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  [ -n "$comm" ] || return 1
  [[ "$comm" == "${name:0:15}" ]] && return 0
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"$name"* ]]
}

# stop_pid NAME PIDFILE [SECONDS] — SIGTERM the process in PIDFILE, wait up to SECONDS
# (default 20) for a graceful exit, then SIGKILL. Removes the pidfile. A missing pidfile or
# dead process is a no-op, so stopping twice is fine.
stop_pid() {
  local name="$1" pidfile="$2" seconds="${3:-20}" pid
  if [ ! -f "$pidfile" ]; then
    log "$name: not running (no pidfile)"
    return 0
  fi
  pid="$(cat "$pidfile")"
  if ! pid_alive "$pid" || ! pid_is "$pid" "$name"; then
    log "$name: not running (stale pidfile $pidfile)"
    rm -f "$pidfile"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for "$seconds" "$name (pid $pid) to exit after SIGTERM" _pid_gone "$pid"; then
    log "$name: sending SIGKILL to pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 5 "$name (pid $pid) to exit after SIGKILL" _pid_gone "$pid" || return 1
  fi
  rm -f "$pidfile"
  log "$name: stopped"
}

_pid_gone() { ! pid_alive "$1"; }

# spawn_service NAME ADDR METRICS_ADDR LOGFILE PIDFILE CMD [ARGS...] — starts the hookd service
# CMD in the background with HOOKD_LISTEN=ADDR and HOOKD_METRICS_LISTEN=METRICS_ADDR, its output
# appended to LOGFILE and its pid written to PIDFILE; detached (setsid), so it outlives the
# script and the terminal until stop_pid stops it. Exits the script if ADDR's port is taken.
# Wait for it with await_service.
spawn_service() {
  local name="$1" addr="$2" metrics="$3" logfile="$4" pidfile="$5"
  shift 5
  if port_in_use "${addr##*:}"; then
    die "port ${addr##*:} for $name is in use by another process; stop it first"
  fi
  log "starting $name on $addr (log: $(rel "$logfile"))"
  HOOKD_LISTEN="$addr" HOOKD_METRICS_LISTEN="$metrics" setsid "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# await_service NAME PIDFILE LOGFILE CHECK [ARGS...] — waits until CHECK succeeds (e.g.
# `port_in_use PORT`, or an authenticated RPC) while the process in PIDFILE runs: up to
# $HOOKD_START_TIMEOUT seconds (600), because a service first applies the migrations, and moving
# an existing delivery log into day partitions (migration 9) takes about 12 s per million
# deliveries. A crash at startup is reported at once instead of after the whole deadline. Exits
# the script with the end of LOGFILE if the service did not come up.
await_service() {
  local name="$1" pid logfile="$3"
  pid="$(cat "$2")"
  shift 3
  if ! wait_for "${HOOKD_START_TIMEOUT:-600}" "$name to serve (applying migrations first)" \
    _started_or_dead "$pid" "$@" || ! pid_alive "$pid"; then
    tail -n 30 "$logfile" >&2 || true
    die "$name did not start; full log: $(rel "$logfile")"
  fi
  log "$name ready (pid $pid)"
}

# _started_or_dead PID CMD... — true when CMD succeeds or PID has exited.
_started_or_dead() {
  local pid="$1"
  shift
  ! pid_alive "$pid" || "$@"
}

# as_postgres CMD [ARGS...] — runs CMD as the `postgres` user when we are root, because
# initdb and postgres refuse to run as root. A non-root developer runs their own cluster as
# themselves. `cd /` avoids "could not change directory to /root" from postgres' tools.
as_postgres() {
  if [ "$(id -u)" -ne 0 ]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")")
  fi
}

# pg_traversable_dir DIR — prints a directory path the postgres user can reach, to hold a
# cluster that was asked to live at DIR. Returns 1 if neither works.
#
# Why: as root we run PostgreSQL as `postgres`, which needs search (x) permission on every
# parent of its data directory. A checkout under /root (mode 700) fails that. We first grant
# o+x on the blocking parents: that lets other users traverse the directory to a path they
# already know, not list or read it, so nothing in the repo becomes readable that was not
# already world-readable. Where that is impossible (a filesystem that ignores chmod, e.g. a
# root-squashed NFS or a FUSE mount, or parents we do not own), we fall back to
# /tmp/hookd-data-<uid>/<name>-<hash of DIR>, which always is traversable and stays stable
# across runs, so `stop` finds what `start` created.
pg_traversable_dir() {
  local dir="$1"
  if [ "$(id -u)" -ne 0 ]; then
    # Not root: the cluster runs as us, so no other user needs access.
    printf '%s\n' "$dir"
    return 0
  fi
  local parent
  parent="$(dirname "$dir")"
  mkdir -p "$parent"
  parent="$(cd "$parent" && pwd -P)"
  if ! as_postgres test -x "$parent" 2>/dev/null; then
    # Walk from / down, fixing each parent postgres cannot search.
    local p="" part parts
    IFS=/ read -ra parts <<<"$parent"
    for part in "${parts[@]}"; do
      [ -n "$part" ] || continue
      p="$p/$part"
      if ! as_postgres test -x "$p" 2>/dev/null; then
        log "granting o+x on $p so the postgres user can reach $dir"
        chmod o+x "$p" 2>/dev/null || break
      fi
    done
  fi
  if as_postgres test -x "$parent" 2>/dev/null; then
    printf '%s\n' "$dir"
    return 0
  fi
  local base hash
  base="/tmp/hookd-data-$(id -u)"
  hash="$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"
  mkdir -p "$base"
  # Refuse a /tmp path someone else planted (symlink or foreign owner).
  if [ -L "$base" ] || [ "$(stat -c %u "$base")" != "$(id -u)" ]; then
    log "error: $base is not a directory owned by uid $(id -u)"
    return 1
  fi
  chmod 755 "$base"
  log "postgres cannot traverse $parent; using $base/$(basename "$dir")-$hash instead"
  printf '%s\n' "$base/$(basename "$dir")-$hash"
}
