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
# `config` inlines env files; the prod layer itself must name one (for
# settings: secrets are files, below).
raw_text = open("docker-compose.prod.yml", encoding="utf-8").read()
raw = yaml.safe_load(raw_text)
rule(bool(raw.get("x-insight", {}).get("env_file")), "prod: the insight services take no env file")

# Secrets as files (issue #17, item 8): every secret is a Compose secret read
# from a file on disk, mounted into the services that need it and named by
# INSIGHT_<KEY>_FILE (PostgreSQL: POSTGRES_PASSWORD_FILE); none is an
# environment value, interpolated into the file, or in the env file (whose
# variables reach every insight container: .env.example is inlined here).
for name, spec in (prod.get("secrets") or {}).items():
    rule("file" in (spec or {}), f"prod: secret {name} is not read from a file")


def mounted(svc):
    """The paths where a service's Compose secrets appear."""
    out = {}
    for entry in svc.get("secrets", []):
        entry = {"source": entry} if isinstance(entry, str) else entry
        target = entry.get("target") or entry["source"]
        out[target if target.startswith("/") else f"/run/secrets/{target}"] = entry["source"]
    return out


def secret_like(key):
    return key in ("POSTGRES_PASSWORD", "REDIS_PASSWORD") or (
        key.startswith("INSIGHT_") and any(w in key for w in ("SECRET", "PASSWORD", "DATABASE_URL", "API_KEY"))
    )


SECRET_FILES = {
    "INSIGHT_SECRET_KEY_FILE": "secret-key",
    "INSIGHT_JWT_SECRET_FILE": "jwt-secret",
    "INSIGHT_DATABASE_URL_FILE": "database-url",
    "INSIGHT_REDIS_PASSWORD_FILE": "redis-password",
}
for svc_name, svc in s.items():
    env = svc.get("environment") or {}
    paths = mounted(svc)
    for key, value in env.items():
        if secret_like(key):
            rule(key.endswith("_FILE"), f"prod: {svc_name} gets {key} as an environment value (mount a secret file)")
        if key.endswith("_FILE"):
            rule(value in paths, f"prod: {svc_name}'s {key}={value} is not a secret the service mounts")
    for path in paths:
        rule(path.startswith("/run/secrets/"), f"prod: {svc_name} mounts a secret at {path}, not under /run/secrets")
for svc_name in ("insight", "insight-worker", "insight-migrate"):
    env = s.get(svc_name, {}).get("environment") or {}
    paths = mounted(s.get(svc_name, {}))
    for key, name in SECRET_FILES.items():
        rule(paths.get(env.get(key)) == name, f"prod: {svc_name} does not read {name} through {key}")
rule(mounted(api).get(api["environment"].get("INSIGHT_ADMIN_PASSWORD_FILE")) == "admin-password",
     "prod: insight does not read admin-password through INSIGHT_ADMIN_PASSWORD_FILE")
pg = s["postgres"]
rule(mounted(pg).get(pg.get("environment", {}).get("POSTGRES_PASSWORD_FILE")) == "postgres-password",
     "prod: postgres does not read postgres-password through POSTGRES_PASSWORD_FILE")
redis_svc = s["redis"]
rule("redis-password" in mounted(redis_svc).values(), "prod: redis does not mount redis-password")
health = " ".join(redis_svc.get("healthcheck", {}).get("test", []))
rule(" -a " not in health and "/run/secrets/redis-password" in health,
     "prod: redis' health check does not read the password from its file (or passes it with -a)")
for var in ("POSTGRES_PASSWORD", "INSIGHT_REDIS_PASSWORD", "INSIGHT_SECRET_KEY", "INSIGHT_JWT_SECRET"):
    rule("${" + var not in raw_text, f"prod: docker-compose.prod.yml interpolates ${{{var}}} (a secret from the env file)")
with open(".env.example", encoding="utf-8") as f:
    example = [line.split("=", 1)[0].strip() for line in f if "=" in line and not line.lstrip().startswith("#")]
for key in example:
    rule(not secret_like(key), f".env.example: {key} is a secret (it belongs in a file in SECRETS_DIR)")
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
# The password is configuration read from the secret file on stdin, not an
# argument (`--requirepass VALUE` shows in the process list).
rule("requirepass $(cat /run/secrets/redis-password)" in redis.replace("$$", "$") and "--requirepass" not in redis,
     "prod: redis does not take requirepass from /run/secrets/redis-password")
rule("--maxmemory-policy allkeys-lru" in redis, "prod: redis runs without --maxmemory-policy allkeys-lru")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
