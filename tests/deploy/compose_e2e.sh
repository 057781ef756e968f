#!/usr/bin/env bash
# The shipped containers, really run (deploy/README.md, "Tested here"): builds hookd:local from
# deploy/docker/Dockerfile, starts docker-compose.yml with 3 workers and a receiver that verifies
# every delivery with the standardwebhooks npm library, publishes events while one worker is
# killed and Postgres restarted, and checks that every acknowledged event arrived, signed, and
# is SUCCEEDED in the log. Then it takes everything down and checks that nothing is left.
# With --redis-cluster the same runs with docker-compose.redis-cluster.yml on top: hookd on a
# Redis Cluster of three nodes instead of the one Redis.
#
# It installs what it needs (docker.io, containerd, debootstrap, docker-compose), starts a
# Docker engine when none answers (and stops only that one), and builds what no registry can
# give it: debian:bookworm(-slim) with debootstrap, and stand-ins for postgres:15 and redis:7
# from Debian's packages. Its compose project name, ports and network are its own, so a
# developer's containers and a running scripts/up.sh cluster are not touched.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib.sh"

usage() {
  cat <<EOF
Usage: tests/deploy/compose_e2e.sh [--events N] [--workers N] [--redis-cluster] [--from-source]
                                   [--keep]

  --events N      events to publish (default 1000)
  --workers N     hookd-worker containers (default 3)
  --redis-cluster docker-compose.redis-cluster.yml on top: a Redis Cluster of three nodes
  --from-source   build the image's executables inside Docker (HOOKD_BINARIES=compiled)
                  instead of from \$BUILD_DIR/bin (default build), which must hold a Debian 12
                  build of the four executables (scripts/build.sh)
  --keep          leave the cluster running and its directory in place, for a look afterwards

Exits 0 when every check passed; 1 with the reason otherwise, including when no Docker engine
can run here.
EOF
}

events=1000 workers=3 from_source=0 keep=0 overlay=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --events) events="${2:?--events needs a value}"; shift 2 ;;
    --workers) workers="${2:?--workers needs a value}"; shift 2 ;;
    --from-source) from_source=1; shift ;;
    --redis-cluster) overlay=(-f docker-compose.redis-cluster.yml); shift ;;
    --keep) keep=1; shift ;;
    *) usage >&2; exit 2 ;;
  esac
done
cd "$HOOKD_ROOT"
build_dir="${BUILD_DIR:-build}"
started=$(_now_us)
# elapsed — seconds since the start, for the log.
elapsed() { printf '%ds' $((($(_now_us) - started) / 1000000)); }

# ---- packages and the engine ----
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v containerd >/dev/null 2>&1 || missing+=(containerd)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    die "could not install ${missing[*]} with apt-get"
  fi
fi
# Debian's client, the engine's own version: it builds with BuildKit without the buildx plugin
# (a newer client elsewhere on PATH may insist on buildx).
docker=docker
[ -x /usr/bin/docker ] && docker=/usr/bin/docker
export DOCKER_BUILDKIT=1

work="$(mktemp -d /tmp/hookd-compose.XXXXXX)"
chmod 755 "$work"
project="hookde2e$(printf '%04x' $((RANDOM % 65536)))"
dockerd_pid=""
compose_up=0

# compose ARGS... — docker-compose on this test's project: the shipped file (and the cluster
# overlay) plus the test's receiver and network (tests/deploy/compose.e2e.yml), with the
# generated .env.
compose() {
  docker-compose --project-name "$project" --project-directory "$HOOKD_ROOT" \
    --env-file "$work/.env" -f docker-compose.yml ${overlay[@]+"${overlay[@]}"} \
    -f tests/deploy/compose.e2e.yml "$@"
}

# project_objects KIND — the containers, networks or volumes of this project, one a line.
project_objects() {
  local label="label=com.docker.compose.project=$project"
  case "$1" in
    containers) $docker ps -a -q --filter "$label" ;;
    networks) $docker network ls -q --filter "$label" ;;
    volumes) $docker volume ls -q --filter "$label" ;;
  esac
}

# service_containers SERVICE — the running containers of SERVICE in this project.
service_containers() {
  $docker ps -q --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1"
}

# take_down — docker-compose down -v of the project, one-off containers included; its output goes
# to the terminal only when it fails.
take_down() {
  compose --profile tools down -v --remove-orphans --timeout 10 >"$work/down.log" 2>&1 ||
    { cat "$work/down.log" >&2; return 1; }
}

# shellcheck disable=SC2317  # runs from the EXIT trap
cleanup() {
  local status=$?
  trap - EXIT
  if [ "$keep" = 1 ] && [ "$compose_up" = 1 ]; then
    log "kept: project $project, files in $work (take it down: docker-compose -p $project down -v)"
    exit "$status"
  fi
  if [ "$compose_up" = 1 ]; then
    take_down || status=1
    # One-off `run` containers a failure left behind (the publisher's).
    project_objects containers | xargs -r $docker rm -f >/dev/null 2>&1 || true
  fi
  if [ -n "$dockerd_pid" ]; then
    stop_pid dockerd "$work/dockerd.pid" 30 || true
  fi
  if [ "$status" -eq 0 ]; then rm -rf "$work"; else log "files of the failed run: $work"; fi
  exit "$status"
}
trap cleanup EXIT

if ! $docker info >/dev/null 2>&1; then
  log "starting dockerd (log: $work/dockerd.log)"
  dockerd >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  echo "$dockerd_pid" >"$work/dockerd.pid"
  engine_answers_or_died() { $docker info >/dev/null 2>&1 || ! pid_alive "$dockerd_pid"; }
  wait_for 60 "the Docker engine" engine_answers_or_died 2>/dev/null || true
  if ! $docker info >/dev/null 2>&1; then
    reason="$(grep -m1 -iE 'failed to start|error|root' "$work/dockerd.log" || tail -n 1 "$work/dockerd.log")"
    echo "compose_e2e: no Docker engine could start here: ${reason:-dockerd did not answer within 60 s}" >&2
    exit 1
  fi
fi
log "engine: Docker $($docker version -f '{{.Server.Version}}') ($(elapsed))"

# ---- images no registry gives us ----
# image_exists REF
image_exists() { $docker image inspect "$1" >/dev/null 2>&1; }
# pull_or REF — true when REF is here or could be pulled.
pull_or() { image_exists "$1" || $docker pull -q "$1" >/dev/null 2>&1; }

# debian:bookworm and debian:bookworm-slim from debootstrap (minbase), with Debian's sources as
# this machine has them; slim without documentation, manual pages and locales, and told by dpkg
# to keep them out of what is installed later (as the official slim image is).
make_base_images() {
  local root="$work/rootfs"
  log "debootstrap bookworm (no registry has debian:bookworm)"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
    rm -f "$root/etc/apt/sources.list"
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
  tar -C "$root" -c . | $docker import -c 'CMD ["bash"]' - debian:bookworm >/dev/null
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/*
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    'path-exclude /usr/share/lintian/*' >"$root/etc/dpkg/dpkg.cfg.d/docker-slim"
  tar -C "$root" -c . | $docker import -c 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
  rm -rf "$root"
}
if ! pull_or debian:bookworm || ! pull_or debian:bookworm-slim; then make_base_images; fi

# Stand-ins for the official Postgres and Redis images (tests/deploy/standins).
for pair in postgres:15:postgres redis:7:redis; do
  ref="${pair%:*}" dir="${pair##*:}"
  if ! pull_or "$ref"; then
    log "building a stand-in for $ref from Debian's packages"
    $docker build -q -t "$ref" "tests/deploy/standins/$dir" >"$work/build-$dir.log" 2>&1 ||
      { tail -n 30 "$work/build-$dir.log" >&2; die "building the $ref stand-in failed"; }
  fi
done

bash scripts/install-interop.sh
$docker build -q -t hookd-e2e-receiver:local -f tests/deploy/receiver/Dockerfile tests/interop \
  >"$work/build-receiver.log" 2>&1 ||
  { tail -n 30 "$work/build-receiver.log" >&2; die "building the receiver image failed"; }

# hookd:local, from deploy/docker/Dockerfile.
image_args=()
if [ "$from_source" = 0 ]; then
  for b in hookd-subscription hookd-ingest hookd-worker hookctl; do
    [ -x "$build_dir/bin/$b" ] || die "$build_dir/bin/$b is missing: run scripts/build.sh, or pass --from-source"
  done
  rm -rf build/image
  bash deploy/docker/strip-binaries.sh "$build_dir/bin" build/image
  image_args=(--build-arg HOOKD_BINARIES=prebuilt)
fi
log "building hookd:local ($([ "$from_source" = 1 ] && echo from source || echo "from $build_dir/bin"))"
$docker build "${image_args[@]}" -t hookd:local -f deploy/docker/Dockerfile . >"$work/build-hookd.log" 2>&1 ||
  { tail -n 40 "$work/build-hookd.log" >&2; die "docker build of hookd:local failed"; }
rm -rf build/image
log "images ready ($(elapsed))"

# ---- the image: small, not root ----
size=$($docker image inspect -f '{{.Size}}' hookd:local)
user=$($docker image inspect -f '{{.Config.User}}' hookd:local)
uid=$($docker run --rm --entrypoint id hookd:local -u)
log "hookd:local: $((size / 1000000)) MB, user $user (uid $uid); layers:"
$docker history --format '{{.Size}}	{{.CreatedBy}}' hookd:local | cut -c1-110 | sed 's/^/    /' >&2
[ "$size" -lt 200000000 ] || die "hookd:local is $((size / 1000000)) MB; it must stay under 200 MB"
[ "$uid" != 0 ] || die "hookd:local runs as root"

# ---- the cluster ----
# A /24 for the project's network that no route of this machine uses yet.
subnet=""
for _ in $(seq 1 50); do
  candidate="10.213.$((RANDOM % 256)).0"
  if ! ip -4 route 2>/dev/null | grep -q "^${candidate%.0}\."; then
    subnet="$candidate/24"
    break
  fi
done
[ -n "$subnet" ] || die "no free 10.213.x.0/24 for the compose network"
mapfile -t ports < <(free_ports 2)
subscription_port="${ports[0]}" ingest_port="${ports[1]}"
mkdir -p "$work/out"
chmod 777 "$work/out"  # the receiver writes here as uid 10001
secret="whsec_$(openssl rand -base64 32)"
printf '{"/hook": {"verifier": "standardwebhooks", "secret": "%s"}}\n' "$secret" >"$work/out/config.json"
printf '%s' "$secret" >"$work/secret"
chmod 644 "$work/secret"
cat >"$work/.env" <<ENV
HOOKD_ADMIN_TOKEN=$(openssl rand -hex 32)
HOOKD_MASTER_KEY=$(openssl rand -base64 32)
POSTGRES_PASSWORD=$(openssl rand -hex 24)
HOOKD_IMAGE=hookd:local
HOOKD_SUBSCRIPTION_PORT=$subscription_port
HOOKD_INGEST_PORT=$ingest_port
HOOKD_ALLOW_HTTP=true
HOOKD_PRIVATE_ALLOWLIST=$subnet
HOOKD_E2E_OUT=$work/out
HOOKD_E2E_SUBNET=$subnet
ENV

# service_logs SERVICE... — the last 50 log lines of each, on stderr.
service_logs() {
  local s
  for s in "$@"; do
    log "last 50 log lines of $s:"
    compose logs --no-color --tail 50 "$s" >&2 || true
  done
}

# container_state CONTAINER — its health when it has a health check, else its state; "done" for
# a one-shot container (restart "no", the cluster's init) that exited 0.
container_state() {
  $docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else if and (eq .State.Status "exited") (eq .State.ExitCode 0) (eq .HostConfig.RestartPolicy.Name "no")}}done{{else}}{{.State.Status}}{{end}}' "$1"
}

# wait_healthy SECONDS — until every container of the project is healthy (or running, without a
# health check); prints the logs of those that are not and fails at the deadline.
wait_healthy() {
  local deadline=$(($(_now_us) + $1 * 1000000)) c pending
  while true; do
    pending=()
    for c in $(project_objects containers); do
      case "$(container_state "$c")" in healthy | running | done) ;; *) pending+=("$c") ;; esac
    done
    [ ${#pending[@]} -gt 0 ] || return 0
    if (($(_now_us) >= deadline)); then
      for c in "${pending[@]}"; do
        log "$($docker inspect -f '{{.Name}}' "$c") is $(container_state "$c") after ${1}s"
        service_logs "$($docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$c")"
      done
      return 1
    fi
    sleep 1
  done
}

log "docker-compose up: project $project, $workers workers, network $subnet"
compose_up=1
if ! compose up -d --scale "worker=$workers" >"$work/up.log" 2>&1; then
  cat "$work/up.log" >&2
  service_logs postgres redis subscription ingest worker ${overlay[@]+redis-node-1 redis-cluster-init}
  die "docker-compose up failed"
fi
wait_healthy 240 || die "the cluster did not become healthy"
log "cluster healthy ($(elapsed))"

# hookctl ARGS... — the compose tools profile's hookctl, on the project's network.
# compose's progress lines go to a file, shown when the command fails.
hookctl() {
  compose run --rm -T -v "$work/secret:/secret:ro" hookctl "$@" 2>"$work/hookctl.err" ||
    { cat "$work/hookctl.err" >&2; return 1; }
}
hookctl event-types create compose.test --description "compose e2e" >/dev/null ||
  die "hookctl event-types create failed"
hookctl apps create --tenant e2e --name receiver --url http://receiver:8080/hook \
  --event-type compose.test --secret-file /secret >"$work/app.txt" ||
  die "hookctl apps create failed (it sends a test request to the receiver first)"

# ---- load, with a worker killed and Postgres restarted ----
compose run --rm -T -v "$HOOKD_ROOT/tests/deploy/publish_events.sh:/publish_events.sh:ro" \
  --entrypoint bash hookctl /publish_events.sh "$events" >"$work/acks.txt" 2>"$work/publish.log" &
publisher=$!
acked() { [ -f "$work/acks.txt" ] && wc -l <"$work/acks.txt" || echo 0; }
# wait_acked N — until N events are acknowledged; fails if the publisher ends first.
wait_acked() {
  local deadline=$(($(_now_us) + 180 * 1000000))
  until [ "$(acked)" -ge "$1" ]; do
    pid_alive "$publisher" || { cat "$work/publish.log" >&2; die "the publisher ended at $(acked) events"; }
    (($(_now_us) < deadline)) || die "only $(acked) of $1 events acknowledged after 180 s"
    sleep 0.2
  done
}
# held_by CONTAINER — the stream entries the worker in CONTAINER has read and not acknowledged:
# XPENDING of its consumer (<hostname>-<pid>; the worker is the container's pid 1) over every
# partition of the Compose defaults (prefix hookd, 16 partitions, group hookd-workers). redis-cli
# -c follows MOVED, so the same loop serves one Redis and a cluster's nodes; --raw prints each
# pending entry as 4 lines (id, consumer, idle ms, deliveries).
held_by() {
  local consumer redis=redis
  consumer="$($docker inspect -f '{{.Config.Hostname}}' "$1")-1"
  [ ${#overlay[@]} -eq 0 ] || redis=redis-node-1
  compose exec -T "$redis" sh -c 'for p in $(seq 0 15); do
    redis-cli -c --raw XPENDING "hookd:{p$p}:deliveries" hookd-workers - + 100000 "$1"
  done | grep -c . | awk "{print int(\$1 / 4)}"' sh "$consumer" | tr -d '\r'
}
wait_acked $((events / 3))
# The victim is a worker holding deliveries (the receiver answers after 300 ms), so that the kill
# takes some in flight: they must reach the receiver through another worker.
victim="" held=0
deadline=$(($(_now_us) + 30 * 1000000))
while [ -z "$victim" ]; do
  for c in $(service_containers worker); do
    held="$(held_by "$c")"
    if [ "${held:-0}" -gt 0 ]; then victim="$c" && break; fi
  done
  [ -n "$victim" ] || (($(_now_us) < deadline)) || die "no worker held a delivery for 30 s"
  [ -n "$victim" ] || sleep 0.2
done
$docker kill "$victim" >/dev/null
log "$(acked) events acknowledged: docker kill $($docker inspect -f '{{.Name}}' "$victim"), which held $held unacknowledged deliveries"
wait_acked $((2 * events / 3))
log "$(acked) events acknowledged: docker-compose restart postgres"
compose restart postgres >/dev/null 2>&1 || die "docker-compose restart postgres failed"
wait "$publisher" || { cat "$work/publish.log" >&2; die "the publisher failed"; }
[ "$(acked)" -eq "$events" ] || die "$(acked) of $events events acknowledged"
log "all $events events acknowledged ($(elapsed)); waiting for the deliveries"

# ---- the ledger ----
deadline=$(($(_now_us) + 300 * 1000000))
until hookctl --json deliveries list --tenant e2e --all --page-size 1000 >"$work/log.json" 2>/dev/null &&
  python3 tests/deploy/check_ledger.py "$work/acks.txt" "$work/out/deliveries.jsonl" \
    "$work/log.json" >"$work/ledger.txt" 2>&1; do
  if (($(_now_us) >= deadline)); then
    cat "$work/hookctl.err" "$work/ledger.txt" >&2
    die "the ledger did not hold within 300 s"
  fi
  sleep 2
done
log "$(cat "$work/ledger.txt") ($(elapsed))"

# ---- /metrics of every service, from a container on the compose network ----
targets=(subscription ingest)
for c in $(service_containers worker); do
  targets+=("$($docker inspect -f '{{.Name}}' "$c" | tr -d /)")
done
for t in "${targets[@]}"; do
  compose exec -T receiver node -e "
    fetch('http://$t:9090/metrics').then(async (r) => {
      const text = await r.text();
      if (r.status !== 200 || !text.includes('hookd_')) throw new Error('status ' + r.status);
    }).catch((e) => { console.error('$t:9090/metrics: ' + e.message); process.exit(1); });" ||
    die "/metrics of $t does not answer"
done
log "/metrics answers on ${targets[*]}"

# ---- down, and nothing left ----
take_down || die "docker-compose down failed"
compose_up=0
left="$(project_objects containers) $(project_objects networks) $(project_objects volumes)"
[ -z "${left// /}" ] || die "left behind after docker-compose down -v: $left"
log "passed in $(elapsed): nothing of project $project is left"
