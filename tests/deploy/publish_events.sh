#!/bin/bash
# publish_events.sh N — run by tests/deploy/compose_e2e.sh inside a hookctl container of the
# compose project: publishes events 1..N of type compose.test to tenant e2e, payload {"seq": i}.
# Each is retried under its own idempotency key until ingest acknowledges it (a worker is killed
# and Postgres restarted meanwhile), for at most 120 s. Prints "i event-id" for every
# acknowledged event, in order; exits 1 when one was never acknowledged.
set -u
n="${1:?usage: publish_events.sh N}"
for ((i = 1; i <= n; i++)); do
  deadline=$((SECONDS + 120))
  until out=$(hookctl --timeout 5s events publish --tenant e2e --type compose.test \
    --idempotency-key "e2e-$i" --data "{\"seq\":$i}" 2>&1); do
    if ((SECONDS >= deadline)); then
      echo "event $i was not acknowledged within 120 s: $out" >&2
      exit 1
    fi
    sleep 0.2  # a pause between attempts, not a wait for something to happen
  done
  id=$(grep -o -m1 'evt_[0-9A-Za-z]*' <<<"$out")
  [ -n "$id" ] || { echo "event $i: no event id in: $out" >&2; exit 1; }
  echo "$i $id"
done
