"""Backup and restore the way the Kubernetes manifests do it, against a real
PostgreSQL: the production overlay's migrate init container, its backup
CronJob (args, ConfigMap and env, volume paths mapped to a scratch dir) and
k8s/examples/restore-job.yaml's args, each run with the release binary. The
insight-secrets volume is a scratch dir holding one file per Secret key, as
the kubelet mounts it, so the INSIGHT_<KEY>_FILE settings read them.

  1. migrate (init container) into a fresh schema; two users created;
  2. the CronJob's command writes a backup into "its" volume;
  3. the schema is dropped and re-created empty;
  4. the restore Job's command (`restore /backups`: the newest backup in the
     volume) brings it back, and the users are as before;
  5. restoring again is refused (the store is not empty).

usage: backup_restore.py BIN WORKDIR (WORKDIR holds k8s-production.yaml)
Needs INSIGHT_TEST_POSTGRES_URL (scripts/services.sh exports it)."""
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import yaml

binary, work = sys.argv[1], sys.argv[2]
base_url = os.environ.get("INSIGHT_TEST_POSTGRES_URL")
if not base_url:
    print("INSIGHT_TEST_POSTGRES_URL is not set: source scripts/services.sh (PostgreSQL is needed)")
    sys.exit(1)

docs = [d for d in yaml.safe_load_all(open(os.path.join(work, "k8s-production.yaml"), encoding="utf-8")) if d]
config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}


def find(kind, name, source=docs):
    for d in source:
        if d["kind"] == kind and d["metadata"]["name"] == name:
            return d
    sys.exit(f"{kind}/{name} not found")


def pod_spec(obj):
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


schema = f"ship_backup_{os.getpid()}"
sep = "&" if "?" in base_url else "?"
store_url = f"{base_url}{sep}options=" + urllib.parse.quote(f"-c search_path={schema}")
scratch = tempfile.mkdtemp(prefix="insight-ship-backup-")
SECRETS = {
    "secret-key": secrets.token_hex(32),
    "jwt-secret": secrets.token_hex(32),
    "admin-password": secrets.token_hex(16),
    "redis-password": secrets.token_hex(16),
    "database-url": store_url,
}


def container_env(container):
    """The container's environment as the kubelet would build it, with every
    mount path mapped into the scratch dir (one per volume name, so the
    CronJob and the restore Job share the backup volume)."""
    env = {}
    for src in container.get("envFrom", []):
        env.update(config_maps[src["configMapRef"]["name"]])
    for e in container.get("env", []):
        if "value" not in e:
            sys.exit(f"{container['name']}: {e['name']} is not a plain value (secrets are files)")
        env[e["name"]] = e["value"]
    for m in container.get("volumeMounts", []):
        local = os.path.join(scratch, m["name"])
        os.makedirs(local, exist_ok=True)
        env = {k: v.replace(m["mountPath"], local) if v.startswith(m["mountPath"]) else v for k, v in env.items()}
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    return env


def mount_secrets(spec):
    """Write the insight-secrets keys into the scratch dir of each volume
    that mounts that Secret (what the kubelet does)."""
    for v in spec.get("volumes", []):
        if v.get("secret", {}).get("secretName") != "insight-secrets":
            continue
        local = os.path.join(scratch, v["name"])
        os.makedirs(local, exist_ok=True)
        for key, value in SECRETS.items():
            path = os.path.join(local, key)
            if os.path.exists(path):
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(value + "\n")
            os.chmod(path, 0o400)


def mapped_args(container):
    args = list(container["args"])
    for m in container.get("volumeMounts", []):
        args = [a.replace(m["mountPath"], os.path.join(scratch, m["name"]), 1) if a.startswith(m["mountPath"]) else a for a in args]
    return args


def run(label, container, args=None, stdin=None, expect_ok=True):
    args = args if args is not None else mapped_args(container)
    out = subprocess.run([binary, *args], env=container_env(container), input=stdin,
                         capture_output=True, text=True, timeout=300)
    text = (out.stdout + out.stderr).strip()
    if (out.returncode == 0) != expect_ok:
        sys.exit(f"{label}: exit {out.returncode}, expected {'success' if expect_ok else 'failure'}\n{text}")
    print(f"{label}: {'ok' if expect_ok else 'refused as expected'}: {text.splitlines()[-1] if text else ''}")
    return text


def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", base_url, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        sys.exit(f"psql {sql!r}: {out.stderr}")
    return out.stdout.strip()


api = find("Deployment", "insight-api")
migrate = next(c for c in pod_spec(api)["initContainers"] if c["name"] == "migrate")
backup = pod_spec(find("CronJob", "insight-backup"))["containers"][0]
restore_docs = [d for d in yaml.safe_load_all(open("k8s/examples/restore-job.yaml", encoding="utf-8")) if d]
restore = pod_spec(find("Job", "insight-restore", restore_docs))["containers"][0]
if backup["args"] != ["backup"] or restore["args"][0] != "restore" or migrate["args"] != ["migrate"]:
    sys.exit(f"unexpected commands: {migrate['args']} {backup['args']} {restore['args']}")
# The backup volume is the same claim in both.
claims = {
    obj: {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in pod_spec(d)["volumes"]}
    for obj, d in (("backup", find("CronJob", "insight-backup")), ("restore", find("Job", "insight-restore", restore_docs)))
}
if claims["backup"].get("backups") != "insight-backups" or claims["restore"].get("backups") != "insight-backups":
    sys.exit(f"the CronJob and the restore Job do not share the insight-backups claim: {claims}")

for obj in (api, find("CronJob", "insight-backup"), find("Job", "insight-restore", restore_docs)):
    mount_secrets(pod_spec(obj))
psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
try:
    run("migrate (init container)", migrate)
    for name, role in (("ship-admin", "admin"), ("ship-analyst", "analyst")):
        run(f"user create {name}", migrate, ["user", "create", "--username", name, "--role", role],
            stdin=secrets.token_hex(12) + "\n")
    users = f"SELECT string_agg(username || ':' || role || ':' || password_hash, ',' ORDER BY username) FROM {schema}.users"
    before = psql(users)
    if "ship-analyst:analyst" not in before:
        sys.exit(f"seeding failed: {before}")
    run("backup (CronJob)", backup)
    written = sorted(os.listdir(os.path.join(scratch, "backups")))
    if len(written) != 1 or not written[0].endswith(".pgdump"):
        sys.exit(f"the CronJob's volume holds {written}, expected one .pgdump")
    psql(f"DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema}")
    run("restore (restore Job, newest backup in the volume)", restore)
    after = psql(users)
    if after != before:
        sys.exit(f"restored users differ:\n before {before}\n after  {after}")
    print(f"restored {before.count(',') + 1} user(s) identical to the backup")
    run("restore again into a non-empty store", restore, expect_ok=False)
finally:
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    shutil.rmtree(scratch, ignore_errors=True)
