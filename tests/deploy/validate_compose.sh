#!/usr/bin/env bash
# Checks docker-compose.yml with docker-compose (Debian's 1.29; it only parses, no engine
# needed) against an .env generated from .env.example in a temporary directory:
# the file is valid, the example's empty secrets are refused, and the rendered services have
# the shape deploy/README.md describes.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fail() {
  echo "validate_compose: FAIL: $*" >&2
  exit 1
}

command -v docker-compose >/dev/null 2>&1 ||
  fail "docker-compose not found; install it with scripts/install-deps.sh (Debian package docker-compose)"
command -v openssl >/dev/null 2>&1 || fail "openssl not found (scripts/install-deps.sh)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# compose lets the caller's environment override .env; run it with a clean one so that a
# HOOKD_* variable exported by a developer or CI does not change what is checked.
compose() {
  env -i PATH="$PATH" HOME="$tmp" LANG=C.UTF-8 \
    docker-compose --project-directory "$root" -f "$root/docker-compose.yml" \
    --env-file "$tmp/.env" "$@"
}

# 1. The example as shipped has empty secrets: compose must refuse to start with them.
cp "$root/.env.example" "$tmp/.env"
if out="$(compose config -q 2>&1)"; then
  fail ".env.example with empty secrets was accepted; required variables must use \${VAR:?...}"
fi
grep -q "in .env" <<<"$out" || fail "unexpected error for the unfilled .env.example: $out"

# 2. Filled in as the example's comments say.
admin_token="$(openssl rand -hex 32)"
master_key="$(openssl rand -base64 32)"
pg_password="$(openssl rand -hex 24)"
sed -e "s|^HOOKD_ADMIN_TOKEN=.*|HOOKD_ADMIN_TOKEN=$admin_token|" \
  -e "s|^HOOKD_MASTER_KEY=.*|HOOKD_MASTER_KEY=$master_key|" \
  -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$pg_password|" \
  "$root/.env.example" >"$tmp/.env"
compose config -q || fail "docker-compose config -q rejected docker-compose.yml"
echo "validate_compose: docker-compose config -q: ok"

services="$(compose config --services)"
for s in postgres redis subscription ingest worker; do
  grep -qx "$s" <<<"$services" || fail "service $s missing from docker-compose config --services: $services"
done
echo "validate_compose: services: $(tr '\n' ' ' <<<"$services")"

compose config >"$tmp/rendered.yml"
# The TLS variant: the same file with docker-compose.tls.yml on top.
compose -f "$root/docker-compose.tls.yml" config >"$tmp/rendered-tls.yml" ||
  fail "docker-compose config rejected docker-compose.yml with docker-compose.tls.yml"
echo "validate_compose: docker-compose.tls.yml: ok"
# The Redis Cluster variant: docker-compose.redis-cluster.yml on top.
compose -f "$root/docker-compose.redis-cluster.yml" config >"$tmp/rendered-cluster.yml" ||
  fail "docker-compose config rejected docker-compose.yml with docker-compose.redis-cluster.yml"
echo "validate_compose: docker-compose.redis-cluster.yml: ok"
# PyYAML is a dependency of Debian's docker-compose, so it is present whenever compose is.
python3 - "$tmp/rendered.yml" "$admin_token" "$master_key" "$tmp/rendered-tls.yml" \
  "$tmp/rendered-cluster.yml" <<'PY'
import sys
import yaml

rendered, admin_token, master_key = sys.argv[1], sys.argv[2], sys.argv[3]
doc = yaml.safe_load(open(rendered))
svc = doc["services"]
errors = []

def check(cond, msg):
    if not cond:
        errors.append(msg)

def seconds(v):
    v = str(v)
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for u in ("ms", "s", "m", "h"):
        if v.endswith(u):
            return float(v[: -len(u)]) * units[u]
    return float(v)

for name in ("postgres", "redis", "subscription", "ingest", "worker"):
    check("healthcheck" in svc[name], f"{name} has no healthcheck")
for name in ("postgres", "redis"):
    check(not svc[name].get("ports"), f"{name} must not publish a port")
check("--appendonly" in svc["redis"]["command"] and "yes" in svc["redis"]["command"],
      "redis must run with --appendonly yes")
vols = {v["target"] if isinstance(v, dict) else v.split(":")[1]: v for v in svc["postgres"]["volumes"]}
check("/var/lib/postgresql/data" in vols, "postgres data must be on a volume")
check({"pgdata", "redisdata"} <= set(doc.get("volumes", {})), "named volumes pgdata and redisdata")

image = {svc[n]["image"] for n in ("subscription", "ingest", "worker")}
check(len(image) == 1, f"the three services must share one image: {image}")
for n in ("subscription", "ingest", "worker"):
    b = svc[n].get("build", {})
    check(b.get("dockerfile") == "deploy/docker/Dockerfile", f"{n} builds deploy/docker/Dockerfile")
    check(svc[n]["command"][0] == f"hookd-{n}", f"{n} runs hookd-{n}")
    env = svc[n]["environment"]
    check(env.get("HOOKD_ADMIN_TOKEN") == admin_token, f"{n}: HOOKD_ADMIN_TOKEN from .env")
    check(env.get("HOOKD_DATABASE_URL", "").startswith("postgresql://hookd:")
          and "@postgres:5432/hookd" in env["HOOKD_DATABASE_URL"], f"{n}: database url")
    deps = svc[n].get("depends_on", {})
    check(isinstance(deps, dict) and deps.get("postgres", {}).get("condition") == "service_healthy",
          f"{n} waits for a healthy postgres")
for n in ("subscription", "ingest", "worker"):
    check(svc[n]["environment"].get("HOOKD_METRICS_LISTEN") == ":9090", f"{n}: metrics on :9090")
    check(any(str(a).startswith("--log-level=") for a in svc[n]["command"]),
          f"{n} runs with --log-level")
check(svc["subscription"]["environment"].get("HOOKD_MASTER_KEY") == master_key,
      "subscription: HOOKD_MASTER_KEY from .env")
for n in ("subscription", "ingest", "worker"):
    check(svc[n]["environment"].get("HOOKD_REDIS_URL") == "redis://redis:6379/0", f"{n}: redis url")
for n in ("ingest", "worker"):
    env = svc[n]["environment"]
    check(env.get("HOOKD_SUBSCRIPTION_ADDR") == "subscription:50051", f"{n}: subscription addr")
    check(svc[n]["depends_on"].get("subscription", {}).get("condition") == "service_healthy",
          f"{n} waits for a healthy subscription")

def published(n):
    out = []
    for p in svc[n].get("ports", []):
        if isinstance(p, dict):
            out.append((p.get("host_ip"), str(p.get("published")), int(p["target"])))
        else:
            # "127.0.0.1:50051:50051/tcp" (compose 1.x); 2.x renders the dict form above.
            parts = str(p).split("/")[0].split(":")
            out.append((parts[0], parts[1], int(parts[2])))
    return out

check(published("subscription") == [("127.0.0.1", "50051", 50051)],
      f"subscription publishes 127.0.0.1:50051 only: {published('subscription')}")
check(published("ingest") == [("127.0.0.1", "50052", 50052)],
      f"ingest publishes 127.0.0.1:50052 only: {published('ingest')}")
# Scalable: `--scale worker=3` fails with a fixed name or a host port.
check("container_name" not in svc["worker"], "worker must not set container_name")
check(not svc["worker"].get("ports"), "worker must not publish a port")
check(seconds(svc["worker"].get("stop_grace_period", "10s")) > 20,
      "worker stop_grace_period must exceed --shutdown_grace (20s)")
check("--shutdown_grace=20s" in svc["worker"]["command"], "worker runs with --shutdown_grace=20s")
check(svc.get("hookctl", {}).get("profiles") == ["tools"], "one-shot hookctl service under profile tools")
check(svc.get("hookctl", {}).get("entrypoint") == ["hookctl"], "hookctl service runs hookctl")

if len(sys.argv) > 4:
    # The TLS variant (docker-compose.tls.yml) on top: every service and hookctl get the
    # certificates, read-only, and the subscription's health check presents one.
    tls = yaml.safe_load(open(sys.argv[4]))["services"]
    for n in ("subscription", "ingest", "worker"):
        env = tls[n]["environment"]
        check(env.get("HOOKD_TLS_CERT") == "/etc/hookd/tls/server.pem", f"tls: {n} serves server.pem")
        check(env.get("HOOKD_TLS_CLIENT_CA") == "/etc/hookd/tls/ca.pem", f"tls: {n} requires client certificates")
        check(env.get("HOOKD_TLS_CA") == "/etc/hookd/tls/ca.pem", f"tls: {n} verifies subscription")
        check(any(str(v).endswith(":/etc/hookd/tls:ro") or (isinstance(v, dict) and v.get("target") == "/etc/hookd/tls" and v.get("read_only"))
                  for v in tls[n].get("volumes", [])), f"tls: {n} mounts the certificates read-only")
    check(tls["hookctl"]["environment"].get("HOOKD_TLS_CERT") == "/etc/hookd/tls/client.pem",
          "tls: hookctl presents client.pem")
    check("--tls-cert" in " ".join(tls["subscription"]["healthcheck"]["test"]),
          "tls: the subscription health check presents a certificate")
    check(tls["subscription"]["ports"] == svc["subscription"]["ports"], "tls: same published ports")

if len(sys.argv) > 5:
    # The Redis Cluster variant (docker-compose.redis-cluster.yml): three cluster nodes on
    # volumes of their own, an init that must succeed first, and every service seeded with all
    # three nodes.
    cl = yaml.safe_load(open(sys.argv[5]))
    cs = cl["services"]
    nodes = [f"redis-node-{i}" for i in (1, 2, 3)]
    for n in nodes:
        cmd = cs[n]["command"]
        check("--cluster-enabled" in cmd and "--appendonly" in cmd, f"cluster: {n} is a cluster node with AOF")
        check(not cs[n].get("ports"), f"cluster: {n} must not publish a port")
        check(n in cl.get("volumes", {}), f"cluster: {n} keeps its data on volume {n}")
    init = cs["redis-cluster-init"]
    check(init.get("restart") == "no", "cluster: redis-cluster-init runs once")
    check(all(init["depends_on"].get(n, {}).get("condition") == "service_healthy" for n in nodes),
          "cluster: redis-cluster-init waits for healthy nodes")
    for n in ("subscription", "ingest", "worker"):
        check(cs[n]["environment"].get("HOOKD_REDIS_URL")
              == "redis+cluster://" + ",".join(f"{x}:6379" for x in nodes),
              f"cluster: {n} is seeded with every node")
        check(cs[n]["depends_on"].get("redis-cluster-init", {}).get("condition")
              == "service_completed_successfully", f"cluster: {n} waits for the cluster")

if errors:
    for e in errors:
        print(f"validate_compose: FAIL: {e}", file=sys.stderr)
    sys.exit(1)
print("validate_compose: rendered services: ok")
PY
