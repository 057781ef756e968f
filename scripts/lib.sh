# shellcheck shell=bash
# Helpers sourced by the other scripts in scripts/. Not meant to be run directly.
# Usage: source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Provides: HOOKD_ROOT, HOOKD_DATA_DIR, HOOKD_PG_BIN, log, die, wait_for, port_in_use,
# pid_alive, stop_pid, as_postgres, pg_traversable_dir.

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
