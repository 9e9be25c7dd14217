"""Every INSIGHT_* setting the deploy files give the service is one its
config loader accepts: the merged Compose environments (dev with its mounted
config file; prod's API, worker and migration from .env.example) and every
rendered Kubernetes container (ConfigMap plus env; Secret references get
strong dummy values). Each set runs `insight migrate` against a scratch
SQLite store: an unknown or invalid setting stops it with the setting's name.

usage: settings.py BIN WORKDIR (WORKDIR holds ship-check's rendered files)"""
import os
import secrets
import subprocess
import sys
import tempfile

import yaml

binary, work = sys.argv[1], sys.argv[2]
problems = []


def run(label, env, args=()):
    with tempfile.TemporaryDirectory() as data:
        env = {k: str(v) for k, v in env.items() if k.startswith("INSIGHT_") or k == "RUST_LOG"}
        env.update(
            INSIGHT_DATA_DIR=data,
            INSIGHT_DATABASE_URL=f"sqlite://{data}/insight.db",
            PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        )
        for key in ("INSIGHT_SECRET_KEY", "INSIGHT_JWT_SECRET"):
            if key in env:
                env[key] = secrets.token_hex(32)
        out = subprocess.run([binary, *args, "migrate"], env=env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            problems.append(f"{label}: {out.stderr.strip() or out.stdout.strip()}")
        else:
            print(f"{label}: accepted ({len(env)} variables)")


def compose(path):
    return yaml.safe_load(open(path, encoding="utf-8"))["services"]


dev = compose(os.path.join(work, "compose-dev.yml"))["insight"]
run("compose dev: insight", dev["environment"], ("--config", "deploy/compose/insight.dev.toml"))
prod = compose(os.path.join(work, "compose-prod.yml"))
for name in ("insight", "insight-worker", "insight-migrate"):
    run(f"compose prod: {name}", prod[name]["environment"])

SECRET_DUMMIES = {
    "secret-key": secrets.token_hex(32),
    "jwt-secret": secrets.token_hex(32),
    "admin-password": secrets.token_hex(16),
    "redis-password": secrets.token_hex(16),
    "database-url": "postgres://replaced@localhost/x",
}
for overlay in ("base", "dev", "staging", "production"):
    docs = [d for d in yaml.safe_load_all(open(os.path.join(work, f"k8s-{overlay}.yaml"), encoding="utf-8")) if d]
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    for d in docs:
        if d["kind"] not in ("Deployment", "Job", "CronJob"):
            continue
        spec = d["spec"]["jobTemplate"]["spec"]["template"]["spec"] if d["kind"] == "CronJob" else d["spec"]["template"]["spec"]
        for c in spec["containers"]:
            env = {}
            for src in c.get("envFrom", []):
                env.update(config_maps[src["configMapRef"]["name"]])
            for e in c.get("env", []):
                if "value" in e:
                    env[e["name"]] = e["value"]
                else:
                    env[e["name"]] = SECRET_DUMMIES[e["valueFrom"]["secretKeyRef"]["key"]]
            run(f"k8s {overlay}: {d['kind']}/{d['metadata']['name']}", env)

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
