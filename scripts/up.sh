#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running hookd: installs packages, builds,
# starts a private Postgres and Redis, starts the services that have been built, and shows
# the control plane working through hookctl. Services keep running; scripts/down.sh stops them.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: scripts/up.sh [--no-build] [--no-demo] [--tls]

Installs dependencies, builds, starts Postgres (127.0.0.1:55432) and Redis (127.0.0.1:56379),
then (re)starts hookd-subscription (127.0.0.1:50051) and, once they are built, hookd-ingest
(:50052) and hookd-worker (:50053), and runs a short hookctl demo.

  --no-build  skip install-deps and the build (use what is in \$BUILD_DIR/bin)
  --no-demo   skip the demo
  --tls       mutual TLS on every gRPC hop, with a throwaway CA and certificates made by
              scripts/make-certs.sh in \$HOOKD_DATA_DIR/tls/ (hookctl then needs --tls-ca,
              --tls-cert and --tls-key, or the HOOKD_TLS_* variables printed at the end)

State lives in \$HOOKD_DATA_DIR (default: .data/): databases, logs and pidfiles in run/,
and the generated admin-token and master-key. Stop everything with scripts/down.sh.
EOF
}

do_build=1 do_demo=1 tls=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --no-build) do_build=0; shift ;;
    --no-demo) do_demo=0; shift ;;
    --tls) tls=1; shift ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

cd "$HOOKD_ROOT"
build_dir="${BUILD_DIR:-build}"
bin_dir="$(cd "$HOOKD_ROOT" && realpath -m "$build_dir/bin")"
run_dir="$HOOKD_DATA_DIR/run"
subscription_addr=127.0.0.1:50051


if [ "$do_build" = 1 ]; then
  bash scripts/build.sh
fi
[ -x "$bin_dir/hookd-subscription" ] ||
  die "$bin_dir/hookd-subscription not found; did the build succeed? (scripts/build.sh)"

mkdir -p "$HOOKD_DATA_DIR" "$run_dir"
bash scripts/pg.sh start
bash scripts/redis.sh start

# ensure_secret PATH CMD... — writes CMD's output to PATH the first time only, owner-only,
# so restarts keep the same admin token and, crucially, the same master key: a new key would
# make every stored signing secret undecryptable.
ensure_secret() {
  local path="$1"
  shift
  if [ ! -s "$path" ]; then
    (umask 077 && "$@" >"$path.tmp") && mv "$path.tmp" "$path"
    log "generated $(rel "$path")"
  fi
  chmod 600 "$path"
}
ensure_secret "$HOOKD_DATA_DIR/admin-token" openssl rand -hex 32
ensure_secret "$HOOKD_DATA_DIR/master-key" openssl rand -base64 32
admin_token="$(cat "$HOOKD_DATA_DIR/admin-token")"

# Settings shared by all services (README, "Configuration"); HOOKD_LISTEN is per service.
HOOKD_DATABASE_URL="$(bash scripts/pg.sh url)"
HOOKD_REDIS_URL="$(bash scripts/redis.sh url)"
HOOKD_ADMIN_TOKEN="$admin_token"
HOOKD_MASTER_KEY="$(cat "$HOOKD_DATA_DIR/master-key")"
HOOKD_SUBSCRIPTION_ADDR="$subscription_addr"
# Dev only: the demo and local receivers are plain-http endpoints on loopback, which a
# production deployment must refuse (https only, no private or loopback targets).
HOOKD_ALLOW_HTTP=true
HOOKD_PRIVATE_ALLOWLIST=127.0.0.0/8
export HOOKD_DATABASE_URL HOOKD_REDIS_URL HOOKD_ADMIN_TOKEN HOOKD_MASTER_KEY \
  HOOKD_SUBSCRIPTION_ADDR HOOKD_ALLOW_HTTP HOOKD_PRIVATE_ALLOWLIST

# --tls: every service serves mTLS with the same throwaway certificate (localhost, 127.0.0.1)
# and presents it to hookd-subscription; hookctl presents the client certificate.
hookctl_tls=()
unset HOOKD_TLS_CERT HOOKD_TLS_KEY HOOKD_TLS_CLIENT_CA HOOKD_TLS_CA
if [ "$tls" = 1 ]; then
  tls_dir="$HOOKD_DATA_DIR/tls"
  # The throwaway certificates last 10 days: made again when missing or within a day of expiry.
  if [ ! -f "$tls_dir/server.pem" ] ||
    ! openssl x509 -checkend 86400 -noout -in "$tls_dir/server.pem" >/dev/null; then
    bash scripts/make-certs.sh "$tls_dir"
  fi
  export HOOKD_TLS_CERT="$tls_dir/server.pem" HOOKD_TLS_KEY="$tls_dir/server.key" \
    HOOKD_TLS_CLIENT_CA="$tls_dir/ca.pem" HOOKD_TLS_CA="$tls_dir/ca.pem"
  hookctl_tls=(--tls-ca "$tls_dir/ca.pem" --tls-cert "$tls_dir/client.pem"
    --tls-key "$tls_dir/client.key")
fi

# Service table: name, gRPC address, metrics address (distinct, so three services can share
# one host without fighting over a default metrics port).
services=(subscription ingest worker)
declare -A listen=([subscription]=127.0.0.1:50051 [ingest]=127.0.0.1:50052 [worker]=127.0.0.1:50053)
declare -A metrics=([subscription]=127.0.0.1:59091 [ingest]=127.0.0.1:59092 [worker]=127.0.0.1:59093)

# Restart rather than keep old processes, so a rebuild is what runs after up.sh. Data-plane
# services go first since they depend on hookd-subscription.
for ((i = ${#services[@]} - 1; i >= 0; i--)); do
  name="hookd-${services[i]}"
  [ ! -f "$run_dir/$name.pid" ] || stop_pid "$name" "$run_dir/$name.pid"
done

# start_service NAME — starts hookd-NAME on its dev ports and waits until it serves: for
# hookd-subscription an authenticated RPC must succeed (proves Postgres and auth work too), for
# the others their gRPC port must listen. Exits the script if it does not come up.
start_service() {
  local svc="$1" name="hookd-$1" addr="${listen[$1]}"
  local logfile="$run_dir/$name.log" pidfile="$run_dir/$name.pid"
  spawn_service "$name" "$addr" "${metrics[$svc]}" "$logfile" "$pidfile" "$bin_dir/$name"
  local ready=(port_in_use "${addr##*:}")
  if [ "$svc" = subscription ] && [ -x "$bin_dir/hookctl" ]; then
    ready=("$bin_dir/hookctl" --server "$addr" --token "$admin_token" "${hookctl_tls[@]}"
      event-types list)
  fi
  await_service "$name" "$pidfile" "$logfile" "${ready[@]}"
}

start_service subscription
for svc in ingest worker; do
  if [ -x "$bin_dir/hookd-$svc" ]; then
    start_service "$svc"
  else
    log "hookd-$svc not built yet (in progress); skipped"
  fi
done

hookctl=("$bin_dir/hookctl" --server "$subscription_addr" --token "$admin_token"
  "${hookctl_tls[@]}")

# ok_if_exists WHAT CMD... — runs CMD and prints its output; an ALREADY_EXISTS failure counts
# as success so the demo can run on every up.sh. Any other failure stops the script.
ok_if_exists() {
  local what="$1" out rc=0
  shift
  out="$("$@" 2>&1)" || rc=$?
  if [ "$rc" -eq 0 ]; then
    printf '%s\n' "$out"
  elif grep -qiE 'already[_ ]exists' <<<"$out"; then
    log "$what already exists"
  else
    printf '%s\n' "$out" >&2
    die "$what: hookctl exited with $rc"
  fi
}

# demo — shows hookd working end to end through hookctl: an event type and a webhook app for
# tenant "acme" pointing at a local receiver (scripts/demo_receiver.py, which checks the
# signature), then a real video platform payload published through hookd-ingest, the signed POST
# the receiver got from hookd-worker, and the delivery's row in Postgres.
demo_port="${HOOKD_DEMO_RECEIVER_PORT:-9099}"
demo() {
  log "demo: event type video.ready"
  ok_if_exists "event type video.ready" \
    "${hookctl[@]}" event-types create video.ready --description "A video finished rendering"

  local secret_file="$run_dir/demo-secret" receiver_log="$run_dir/demo-receiver.log"
  if ! { [ -f "$run_dir/demo_receiver.pid" ] && pid_alive "$(cat "$run_dir/demo_receiver.pid")"; }; then
    port_in_use "$demo_port" &&
      die "port $demo_port for the demo receiver is in use; set HOOKD_DEMO_RECEIVER_PORT"
    log "demo: receiver on 127.0.0.1:$demo_port (log: $(rel "$receiver_log"))"
    setsid python3 "$HOOKD_ROOT/scripts/demo_receiver.py" --port "$demo_port" \
      --secret-file "$secret_file" >>"$receiver_log" 2>&1 </dev/null &
    echo $! >"$run_dir/demo_receiver.pid"
    wait_for 10 "the demo receiver on port $demo_port" port_in_use "$demo_port"
  fi

  # The app's secret is shown once: on creation, or by a rotation when the app exists already
  # (both secrets sign during the grace period, so nothing in flight fails to verify).
  local app_id json
  app_id="$("${hookctl[@]}" --json apps list --tenant acme | python3 -c '
import json, sys
apps = [a for a in json.load(sys.stdin).get("apps", []) if a.get("name") == "demo"]
print(apps[0]["id"] if apps else "")')"
  if [ -z "$app_id" ]; then
    log "demo: app 'demo' for tenant acme, posting to the receiver"
    json="$("${hookctl[@]}" --json apps create --tenant acme --name demo \
      --url "http://127.0.0.1:$demo_port/hooks" --event-type video.ready --event-type 'render.*' \
      --skip-test)"
  else
    log "demo: app 'demo' ($app_id) exists; pointing it at the receiver and rotating its secret"
    "${hookctl[@]}" apps update "$app_id" --url "http://127.0.0.1:$demo_port/hooks" >/dev/null
    "${hookctl[@]}" apps enable "$app_id" >/dev/null
    json="$("${hookctl[@]}" --json apps rotate-secret "$app_id")"
  fi
  (umask 077 && printf '%s' "$json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])' >"$secret_file")
  app_id="$(printf '%s' "$json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
  "${hookctl[@]}" apps get "$app_id"

  [ -f "$run_dir/hookd-ingest.pid" ] || return 0
  # A real payload from a video platform; the answer comes only after the event and one
  # delivery per subscribed app are committed to Postgres.
  local published event_id payload
  payload="$(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["payload"]))' \
    "$HOOKD_ROOT/tests/fixtures/payloads/video.ready.json")"
  log "demo: publish video.ready for tenant acme (tests/fixtures/payloads/video.ready.json)"
  # The apps cache of hookd-ingest learns of a new app within milliseconds; publish once it
  # routes to the demo app.
  wait_for 10 "hookd-ingest to route to the demo app" demo_publish "$payload"
  published="$(cat "$run_dir/demo-published.json")"
  echo "$published"
  event_id="$(printf '%s' "$published" | python3 -c 'import json, sys; print(json.load(sys.stdin)["event_id"])')"

  [ -f "$run_dir/hookd-worker.pid" ] || return 0
  log "demo: waiting for hookd-worker's signed POST to reach the receiver"
  if ! wait_for 20 "the delivery of $event_id" grep -q "\"$event_id\"" "$receiver_log"; then
    die "the demo delivery did not arrive; see $(rel "$run_dir")/hookd-worker.log"
  fi
  grep "\"$event_id\"" "$receiver_log" | tail -n 1 | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("received by the demo receiver:")
for k in ("received_at", "path", "webhook-id", "webhook-timestamp", "signature_valid", "user-agent"):
    print(f"  {k:18} {r[k]}")
body = r["body"]
print("  body               " + body[:160] + ("..." if len(body) > 160 else ""))'
  log "demo: the delivery in Postgres"
  wait_for 10 "the delivery of $event_id to be recorded" demo_succeeded "$event_id" || true
  psql -X "$HOOKD_DATABASE_URL" -c "SELECT d.id, d.status, d.attempt_count, d.last_status_code,
      a.worker, a.duration_ms FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
      WHERE d.event_id = '$event_id'"
}

# demo_publish PAYLOAD — publishes the demo event; true once it was routed to an app.
demo_publish() {
  "${hookctl[@]}" --json events publish --tenant acme --type video.ready --data "$1" \
    >"$run_dir/demo-published.json" 2>/dev/null &&
    grep -qE '"delivery_count": *[1-9]' "$run_dir/demo-published.json"
}

# demo_succeeded EVENT_ID — true once the event's delivery is SUCCEEDED (status 2).
demo_succeeded() {
  [ "$(psql -XAtq "$HOOKD_DATABASE_URL" -c \
    "SELECT count(*) FROM deliveries WHERE event_id = '$1' AND status = 2")" -ge 1 ]
}

if [ "$do_demo" = 1 ]; then
  if [ -x "$bin_dir/hookctl" ]; then
    demo
  else
    log "hookctl not built yet; demo skipped"
  fi
fi

hookctl_rel="$(rel "$bin_dir/hookctl")"
cat <<EOF

hookd is up.
  Postgres      $HOOKD_DATABASE_URL
  Redis         $HOOKD_REDIS_URL
  services      $(for s in "${services[@]}"; do
    [ -f "$run_dir/hookd-$s.pid" ] && printf 'hookd-%s (%s)  ' "$s" "${listen[$s]}"
  done)
  logs          $(rel "$run_dir")/
  metrics       $(for s in "${services[@]}"; do
    [ -f "$run_dir/hookd-$s.pid" ] && printf 'http://%s/metrics  ' "${metrics[$s]}"
  done)

Try next:
  export HOOKD_SERVER=$subscription_addr HOOKD_TOKEN=\$(cat $(rel "$HOOKD_DATA_DIR/admin-token"))$(
  [ "$tls" = 1 ] && printf '\n  export HOOKD_TLS_CA=%s HOOKD_TLS_CERT=%s HOOKD_TLS_KEY=%s' \
    "$(rel "$tls_dir/ca.pem")" "$(rel "$tls_dir/client.pem")" "$(rel "$tls_dir/client.key")" ||
    true)
  $hookctl_rel --help
  $hookctl_rel event-types list
  $hookctl_rel apps list --tenant acme
  $hookctl_rel apps get APP_ID
  $hookctl_rel apps disable APP_ID --reason maintenance
  $hookctl_rel apps rotate-secret APP_ID
  $hookctl_rel events publish --tenant acme --type video.ready --data '{"video_id":"v1"}'
  $hookctl_rel deliveries list --tenant acme
  $hookctl_rel deliveries show DELIVERY_ID

Stop everything with scripts/down.sh (data stays in $(rel "$HOOKD_DATA_DIR")/).
EOF
