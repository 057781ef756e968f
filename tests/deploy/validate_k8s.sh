#!/usr/bin/env bash
# Renders deploy/k8s/overlays/dev and prod with `kubectl kustomize` (offline, no cluster) and
# checks the objects deploy/README.md promises. Plain grep/awk on kustomize's normalized
# output (PyYAML may be absent); kustomize writes sorted keys with fixed indentation.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
k8s="$root/deploy/k8s"
errors=0
fail() {
  echo "validate_k8s: FAIL: $*" >&2
  exit 1
}
check() { # check DESCRIPTION CMD... — records a failure, keeps going to report them all
  local what="$1"
  shift
  if ! "$@" >/dev/null 2>&1; then
    echo "validate_k8s: FAIL: $what" >&2
    errors=$((errors + 1))
  fi
}

command -v kubectl >/dev/null 2>&1 ||
  fail "kubectl not found on PATH; it comes with the base machine image (not a Debian package) and this test needs it to render deploy/k8s"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# doc FILE KIND NAME — prints the rendered document of that kind and metadata.name.
doc() {
  awk -v kind="$2" -v name="$3" '
    function flush() { if (k == kind && n == name) printf "%s", buf; buf = ""; k = ""; n = ""; meta = 0 }
    /^---$/ { flush(); next }
    { buf = buf $0 "\n" }
    /^kind: / { k = substr($0, 7) }
    /^metadata:$/ { meta = 1; next }
    /^[^ ]/ { meta = 0 }
    meta && /^  name: / { n = substr($0, 9) }
    END { flush() }
  ' "$1"
}
kinds() { grep -c "^kind: $2\$" "$1" || true; }
has() { grep -qE -- "$2" <<<"$1"; }
# probe DOC PROBE PORT — the probe is a native gRPC probe on PORT.
probe() { grep -A6 "^ *$2:\$" <<<"$1" | grep -A1 "^ *grpc:\$" | grep -q "port: $3\$"; }

for overlay in dev prod; do
  out="$tmp/$overlay.yaml"
  kubectl kustomize "$k8s/overlays/$overlay" >"$out" 2>"$tmp/err" ||
    fail "kubectl kustomize deploy/k8s/overlays/$overlay: $(cat "$tmp/err")"
  echo "validate_k8s: kubectl kustomize overlays/$overlay: ok ($(grep -c '^kind: ' "$out") objects)"

  check "$overlay: 3 Deployments" test "$(kinds "$out" Deployment)" -eq 3
  check "$overlay: 2 Services" test "$(kinds "$out" Service)" -eq 2
  check "$overlay: 1 HorizontalPodAutoscaler" test "$(kinds "$out" HorizontalPodAutoscaler)" -eq 1
  check "$overlay: 1 ScaledObject" test "$(kinds "$out" ScaledObject)" -eq 1
  check "$overlay: 3 PodDisruptionBudgets" test "$(kinds "$out" PodDisruptionBudget)" -eq 3
  check "$overlay: 1 ConfigMap" test "$(kinds "$out" ConfigMap)" -eq 1

  for pair in subscription:50051 ingest:50052 worker:50053; do
    svc="${pair%%:*}" port="${pair##*:}"
    d="$(doc "$out" Deployment "hookd-$svc")"
    check "$overlay: Deployment hookd-$svc exists" test -n "$d"
    check "$overlay: hookd-$svc runs hookd-$svc" has "$d" "^ +- hookd-$svc\$"
    check "$overlay: hookd-$svc listens on :$port" has "$d" "value: :$port\$"
    check "$overlay: hookd-$svc containerPort $port" has "$d" "containerPort: $port\$"
    check "$overlay: hookd-$svc serves metrics on containerPort 9090" has "$d" "containerPort: 9090\$"
    check "$overlay: hookd-$svc is annotated for scraping" has "$d" "prometheus.io/port: \"9090\"\$"
    check "$overlay: hookd-$svc sets --log-level" has "$d" "--log-level=\\$\\(LOG_LEVEL\\)"
    # The probes use the plaintext health port, which needs no client certificate under mTLS.
    for p in startupProbe readinessProbe livenessProbe; do
      check "$overlay: hookd-$svc $p is a grpc probe on the health port 8086" probe "$d" "$p" 8086
    done
    check "$overlay: hookd-$svc containerPort 8086 (health)" has "$d" "containerPort: 8086\$"
    check "$overlay: hookd-$svc has resource requests" has "$d" "^ +requests:\$"
    check "$overlay: hookd-$svc has resource limits" has "$d" "^ +limits:\$"
    check "$overlay: hookd-$svc runs as non-root" has "$d" "runAsNonRoot: true"
    # uid 10001 reads mounted Secrets (mode 0440) through their group.
    check "$overlay: hookd-$svc has fsGroup 10001" has "$d" "fsGroup: 10001\$"
    check "$overlay: PodDisruptionBudget hookd-$svc" test -n "$(doc "$out" PodDisruptionBudget "hookd-$svc")"
  done
  for svc in subscription ingest; do
    s="$(doc "$out" Service "hookd-$svc")"
    check "$overlay: Service hookd-$svc is ClusterIP" has "$s" "type: ClusterIP"
  done
  w="$(doc "$out" Deployment hookd-worker)"
  check "$overlay: worker terminationGracePeriodSeconds 30" has "$w" "terminationGracePeriodSeconds: 30\$"
  check "$overlay: worker preStop sleep" has "$(grep -A4 'preStop:' <<<"$w")" "- sleep"
  check "$overlay: worker drains with --shutdown_grace=20s" has "$w" "--shutdown_grace=20s"
  h="$(doc "$out" HorizontalPodAutoscaler hookd-ingest)"
  check "$overlay: HPA targets Deployment hookd-ingest" has "$h" "^    name: hookd-ingest\$"
  check "$overlay: HPA scales on cpu" has "$h" "name: cpu\$"

  so="$(doc "$out" ScaledObject hookd-worker)"
  check "$overlay: ScaledObject is keda.sh/v1alpha1" has "$so" "^apiVersion: keda.sh/v1alpha1\$"
  check "$overlay: ScaledObject targets hookd-worker" has "$so" "^    name: hookd-worker\$"
  check "$overlay: 16 redis-streams triggers" test "$(grep -c 'type: redis-streams$' <<<"$so")" -eq 16
  check "$overlay: every trigger uses group hookd-workers" \
    test "$(grep -c 'consumerGroup: hookd-workers$' <<<"$so")" -eq 16
  check "$overlay: every trigger has pendingEntriesCount" \
    test "$(grep -c 'pendingEntriesCount: ' <<<"$so")" -eq 16
  for ((p = 0; p < 16; p++)); do
    check "$overlay: trigger on stream hookd:{p$p}:deliveries" has "$so" "stream: hookd:\\{p$p\\}:deliveries\$"
  done

  # Every secret the Deployments read is a key of the Secret template.
  while read -r key; do
    check "$overlay: Secret template has key $key" grep -q "^  $key: " "$k8s/base/secret.yaml"
  done < <(grep -A1 'secretKeyRef:' "$out" | sed -n 's/^ *key: //p' | sort -u)
  # Least privilege: only the control plane gets the master key.
  check "$overlay: HOOKD_MASTER_KEY only in hookd-subscription" \
    test "$(grep -c 'key: HOOKD_MASTER_KEY$' "$out")" -eq 1
done

dev="$tmp/dev.yaml" prod="$tmp/prod.yaml"
for svc in subscription ingest worker; do
  check "dev: hookd-$svc has 1 replica" has "$(doc "$dev" Deployment "hookd-$svc")" "^  replicas: 1\$"
done
check "prod: hookd-subscription has 2 replicas" has "$(doc "$prod" Deployment hookd-subscription)" "^  replicas: 2\$"
check "prod: hookd-ingest has 3 replicas" has "$(doc "$prod" Deployment hookd-ingest)" "^  replicas: 3\$"
check "prod: hookd-worker has 3 replicas" has "$(doc "$prod" Deployment hookd-worker)" "^  replicas: 3\$"
check "prod: worker minReplicaCount 3" has "$(doc "$prod" ScaledObject hookd-worker)" "minReplicaCount: 3\$"
check "dev: image tag dev" test "$(grep -c 'image: hookd:dev$' "$dev")" -eq 3
check "prod: image pinned (not latest or dev)" \
  bash -c "! grep -qE 'image: .*:(latest|dev)\$' '$prod' && test \$(grep -cE 'image: [^ ]+:[0-9A-Za-z._-]+\$|image: [^ ]+@sha256:' '$prod') -eq 3"
check "dev: HOOKD_ALLOW_HTTP true" grep -q 'HOOKD_ALLOW_HTTP: "true"' "$dev"
check "dev: HOOKD_PRIVATE_ALLOWLIST set" grep -qE 'HOOKD_PRIVATE_ALLOWLIST: [0-9]' "$dev"
check "prod: HOOKD_ALLOW_HTTP false" grep -q 'HOOKD_ALLOW_HTTP: "false"' "$prod"
for overlay in dev prod; do
  check "$overlay: HOOKD_METRICS_LISTEN :9090" grep -q 'HOOKD_METRICS_LISTEN: :9090$' "$tmp/$overlay.yaml"
done
for overlay in dev prod; do
  check "$overlay: HOOKD_HEALTH_LISTEN :8086" grep -q 'HOOKD_HEALTH_LISTEN: :8086$' "$tmp/$overlay.yaml"
done
# prod: mTLS from the Secret hookd-tls in every Deployment; dev: plaintext.
for svc in subscription ingest worker; do
  d="$(doc "$prod" Deployment "hookd-$svc")"
  for var in HOOKD_TLS_CERT HOOKD_TLS_KEY HOOKD_TLS_CLIENT_CA HOOKD_TLS_CA; do
    check "prod: hookd-$svc sets $var" has "$d" "name: $var\$"
  done
  check "prod: hookd-$svc mounts the Secret hookd-tls" has "$d" "secretName: hookd-tls\$"
  check "prod: hookd-$svc mounts it at /etc/hookd/tls" has "$d" "mountPath: /etc/hookd/tls\$"
  check "dev: hookd-$svc has no TLS" bash -c "! grep -q HOOKD_TLS_ <<<\"\$1\"" _ "$(doc "$dev" Deployment "hookd-$svc")"
done
# The optional cert-manager Certificate renders on its own and makes that Secret.
cert="$(kubectl kustomize "$k8s/overlays/prod" >/dev/null && cat "$k8s/overlays/prod/certificate.yaml")"
check "prod: certificate.yaml makes Secret hookd-tls" has "$cert" "secretName: hookd-tls\$"
check "prod: certificate.yaml asks for client auth too" has "$cert" "- client auth\$"
check "prod: certificate.yaml names hookd-subscription" has "$cert" "- hookd-subscription\$"
check "dev: renders the Secret template" test "$(kinds "$dev" Secret)" -eq 1
check "prod: renders no Secret (external secret manager)" test "$(kinds "$prod" Secret)" -eq 0

# The committed ScaledObject is what its generator writes.
bash "$k8s/gen-worker-scaledobject.sh" >"$tmp/scaledobject.yaml"
check "base/worker-scaledobject.yaml matches gen-worker-scaledobject.sh (run it again)" \
  diff -u "$tmp/scaledobject.yaml" "$k8s/base/worker-scaledobject.yaml"

if [ "$errors" -gt 0 ]; then
  echo "validate_k8s: $errors check(s) failed" >&2
  exit 1
fi
echo "validate_k8s: all checks passed"
