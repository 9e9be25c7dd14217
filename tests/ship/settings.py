"""Every INSIGHT_* setting the deploy files give the service is one its
config loader accepts: the merged Compose environments (dev with its mounted
config file; prod's API, worker and migration from .env.example) and every
rendered Kubernetes container (ConfigMap plus env). Secrets reach the service
as files (INSIGHT_<KEY>_FILE naming a file under /run/secrets/insight on
Kubernetes, /run/secrets on Compose): each such path is mapped to a scratch
file holding a strong dummy value, the app store's URL file to a scratch
SQLite store. Each set runs `insight migrate`: an unknown or invalid setting,
or a secret file that is missing, stops it with the setting's name.

usage: settings.py BIN WORKDIR (WORKDIR holds ship-check's rendered files)"""
import os
import secrets
import subprocess
import sys
import tempfile

import yaml

binary, work = sys.argv[1], sys.argv[2]
problems = []


# Where the deploy files mount secrets: Kubernetes' insight-secrets volume
# and Compose's secrets.
SECRET_DIRS = ("/run/secrets/insight/", "/run/secrets/")
SECRET_DUMMIES = {
    "secret-key": secrets.token_hex(32),
    "jwt-secret": secrets.token_hex(32),
    "admin-password": secrets.token_hex(16),
    "redis-password": secrets.token_hex(16),
    "postgres-password": secrets.token_hex(16),
}


def map_secret_files(label, env, data, files):
    """Point every INSIGHT_<KEY>_FILE at a scratch copy of the secret it
    names (the app store's URL names the scratch SQLite store)."""
    for key, path in list(env.items()):
        if not key.endswith("_FILE"):
            continue
        prefix = next((d for d in SECRET_DIRS if path.startswith(d)), None)
        if prefix is None:
            problems.append(f"{label}: {key}={path} is not a file under {' or '.join(SECRET_DIRS)}")
            continue
        name = path[len(prefix):]
        if key == "INSIGHT_DATABASE_URL_FILE":
            value = f"sqlite://{data}/insight.db"
        elif name in SECRET_DUMMIES:
            value = SECRET_DUMMIES[name]
        else:
            problems.append(f"{label}: {key} names {path}, not a known secret ({', '.join(SECRET_DUMMIES)}, database-url)")
            continue
        local = os.path.join(files, f"{key}.secret")
        with open(local, "w", encoding="utf-8") as f:
            f.write(value + "\n")
        env[key] = local


def run(label, env, args=()):
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory() as files:
        env = {k: str(v) for k, v in env.items() if k.startswith("INSIGHT_") or k == "RUST_LOG"}
        env.update(INSIGHT_DATA_DIR=data, PATH=os.environ.get("PATH", "/usr/bin:/bin"))
        map_secret_files(label, env, data, files)
        # A store URL given as a value (Compose dev) is replaced the same way.
        if "INSIGHT_DATABASE_URL_FILE" not in env:
            env["INSIGHT_DATABASE_URL"] = f"sqlite://{data}/insight.db"
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

for overlay in ("base", "dev", "staging", "production"):
    docs = [d for d in yaml.safe_load_all(open(os.path.join(work, f"k8s-{overlay}.yaml"), encoding="utf-8")) if d]
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    for d in docs:
        if d["kind"] not in ("Deployment", "Job", "CronJob"):
            continue
        spec = d["spec"]["jobTemplate"]["spec"]["template"]["spec"] if d["kind"] == "CronJob" else d["spec"]["template"]["spec"]
        for c in spec["containers"] + spec.get("initContainers", []):
            env = {}
            for src in c.get("envFrom", []):
                env.update(config_maps[src["configMapRef"]["name"]])
            for e in c.get("env", []):
                if "value" not in e:
                    problems.append(f"k8s {overlay}: {d['metadata']['name']}: {e['name']} is not a plain value")
                    continue
                env[e["name"]] = e["value"]
            run(f"k8s {overlay}: {d['kind']}/{d['metadata']['name']} {c['name']}", env)

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
