"""What issue #7 asks of the Compose stacks, checked on the merged output of
`docker-compose config` (base, base+dev, base+prod). Prints every broken rule
and exits non-zero when there is one."""
import sys

import yaml

base, dev, prod = (yaml.safe_load(open(p, encoding="utf-8")) for p in sys.argv[1:4])
problems = []


def rule(ok, message):
    if not ok:
        problems.append(message)


BACKING = ("postgres", "redis", "chroma")
for name, doc in (("base", base), ("dev", dev), ("prod", prod)):
    services = doc.get("services", {})
    for svc in ("insight",) + BACKING:
        rule(svc in services, f"{name}: service {svc} is missing")
    for svc in BACKING:
        rule("healthcheck" in services.get(svc, {}), f"{name}: {svc} has no healthcheck")
        vols = services.get(svc, {}).get("volumes", [])
        rule(
            any(isinstance(v, str) and not v.startswith(("/", ".")) for v in vols),
            f"{name}: {svc} keeps its data in no named volume",
        )
    deps = services.get("insight", {}).get("depends_on", {})
    for svc in BACKING:
        cond = deps.get(svc, {}).get("condition") if isinstance(deps, dict) else None
        rule(cond == "service_healthy", f"{name}: insight does not wait for {svc} to be healthy")
    for vol in ("postgres-data", "redis-data", "chroma-data"):
        rule(vol in (doc.get("volumes") or {}), f"{name}: named volume {vol} is missing")

d = dev["services"]["insight"]
rule(d["environment"].get("INSIGHT_PROFILE") == "dev", "dev: insight does not run the dev profile")
rule(
    any("/etc/insight/insight.toml" in v and v.endswith(":ro") for v in d.get("volumes", [])),
    "dev: no read-only bind-mounted config file (hot config)",
)
rule("build" in d, "dev: insight is not built from the working tree")
rule(d.get("command", [])[:2] == ["--config", "/etc/insight/insight.toml"], "dev: insight does not read the mounted config")

s = prod["services"]
api = s["insight"]
rule(api["environment"].get("INSIGHT_PROFILE") == "production", "prod: insight does not run the production profile")
rule(api["environment"].get("INSIGHT_JOBS__WORKER") == "false", "prod: the API replicas run an in-process worker")
rule(int(api.get("deploy", {}).get("replicas", 1)) >= 2, "prod: fewer than 2 API replicas")
rule(s.get("insight-worker", {}).get("command") == ["worker"], "prod: no separate `insight worker` service")
rule(s.get("insight-migrate", {}).get("command") == ["migrate"], "prod: no one-shot `insight migrate`")
for svc in ("insight", "insight-worker"):
    cond = s.get(svc, {}).get("depends_on", {}).get("insight-migrate", {}).get("condition")
    rule(cond == "service_completed_successfully", f"prod: {svc} does not wait for the migration")
for svc_name, svc in s.items():
    rule(svc.get("read_only") is True, f"prod: {svc_name} is not read-only")
    if svc_name != "insight-migrate":
        rule(svc.get("restart") in ("unless-stopped", "always"), f"prod: {svc_name} has no restart policy")
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        rule("cpus" in limits and "memory" in limits, f"prod: {svc_name} has no CPU/memory limits")
# `config` inlines env files; the prod layer itself must name one.
raw = yaml.safe_load(open("docker-compose.prod.yml", encoding="utf-8"))
rule(bool(raw.get("x-insight", {}).get("env_file")), "prod: the insight services take no env file")
for svc_name in ("insight", "insight-worker", "insight-migrate"):
    for key in ("INSIGHT_SECRET_KEY", "INSIGHT_JWT_SECRET"):
        rule(key in s.get(svc_name, {}).get("environment", {}), f"prod: {svc_name} gets no {key} from the env file")
worker = s.get("insight-worker", {})
rule(not worker.get("healthcheck", {}).get("disable"), "prod: the worker's health check is disabled (it serves /health)")
for svc in ("insight", "insight-worker"):
    grace = str(s.get(svc, {}).get("stop_grace_period", "10s"))
    secs = int(grace.rstrip("s")) if grace.rstrip("s").isdigit() else 0
    # drain (5) + shutdown grace (20) must fit before Compose's SIGKILL.
    rule(secs >= 25, f"prod: {svc} stop_grace_period {grace} is shorter than drain + shutdown grace (25 s)")
backup_mounts = [n for n, v in s.items() if any("/backups" in str(m) for m in v.get("volumes", []))]
rule(backup_mounts == ["insight-worker"], f"prod: the backup volume is mounted by {backup_mounts}, not only the worker")
redis = " ".join(s["redis"].get("command", []))
rule("--requirepass" in redis, "prod: redis runs without --requirepass")
rule("--maxmemory-policy allkeys-lru" in redis, "prod: redis runs without --maxmemory-policy allkeys-lru")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
