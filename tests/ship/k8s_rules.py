"""What issue #7 asks of the Kubernetes manifests, checked on the rendered
output of base and each overlay (files k8s-<name>.yaml in the given dir).
Prints every broken rule and exits non-zero when there is one."""
import os
import sys

import yaml

out_dir = sys.argv[1]
rendered = {}
for name in ("base", "dev", "staging", "production"):
    with open(os.path.join(out_dir, f"k8s-{name}.yaml"), encoding="utf-8") as f:
        rendered[name] = [d for d in yaml.safe_load_all(f) if d]
problems = []


def rule(ok, message):
    if not ok:
        problems.append(message)


def find(docs, kind, name=None):
    for d in docs:
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name):
            return d
    return None


def pod_spec(obj):
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


summary = {}
for name, docs in rendered.items():
    kinds = {d["kind"] for d in docs}
    for kind in (
        "Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "NetworkPolicy", "Job", "CronJob",
    ):
        rule(kind in kinds, f"{name}: no {kind}")
    rule("Secret" not in kinds, f"{name}: a Secret with values is part of the manifests")
    api = find(docs, "Deployment", "insight-api")
    worker = find(docs, "Deployment", "insight-worker")
    migrate = find(docs, "Job", "insight-migrate")
    backup = find(docs, "CronJob", "insight-backup")
    if not (api and worker and migrate and backup):
        problems.append(f"{name}: insight-api, insight-worker, insight-migrate or insight-backup missing")
        continue
    c = pod_spec(api)["containers"][0]
    rule(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health", f"{name}: API liveness is not /health")
    rule(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/health/ready", f"{name}: API readiness is not /health/ready")
    rule(c.get("args") == ["serve"], f"{name}: the API does not run `serve`")
    rule(pod_spec(worker)["containers"][0].get("args") == ["worker"], f"{name}: the worker does not run `worker`")
    rule(pod_spec(migrate)["containers"][0].get("args") == ["migrate"], f"{name}: the Job does not run `migrate`")
    rule(pod_spec(backup)["containers"][0].get("args") == ["backup"], f"{name}: the CronJob does not run `backup`")
    env = {e["name"]: e for e in c.get("env", [])}
    rule(env.get("INSIGHT_JOBS__WORKER", {}).get("value") == "false", f"{name}: the API runs an in-process worker")
    for obj in (api, worker, migrate, backup):
        label = f"{name}: {obj['kind']}/{obj['metadata']['name']}"
        spec = pod_spec(obj)
        rule(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{label}: pod may run as root")
        rule(spec.get("automountServiceAccountToken") is False, f"{label}: mounts a service account token")
        for ctr in spec["containers"]:
            sc = ctr.get("securityContext", {})
            rule(sc.get("readOnlyRootFilesystem") is True, f"{label}: root filesystem is writable")
            rule(sc.get("allowPrivilegeEscalation") is False, f"{label}: allows privilege escalation")
            rule(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{label}: keeps capabilities")
            res = ctr.get("resources", {})
            rule({"cpu", "memory"} <= set(res.get("requests", {})), f"{label}: no CPU/memory requests")
            rule({"cpu", "memory"} <= set(res.get("limits", {})), f"{label}: no CPU/memory limits")
            mounts = {m["mountPath"] for m in ctr.get("volumeMounts", [])}
            rule({"/data", "/tmp"} <= mounts, f"{label}: /data and /tmp are not volumes")
            env_names = {e["name"] for e in ctr.get("env", [])}
            for secret in ("INSIGHT_SECRET_KEY", "INSIGHT_JWT_SECRET", "INSIGHT_DATABASE_URL"):
                rule(secret in env_names, f"{label}: {secret} is not set")
            for e in ctr.get("env", []):
                if any(w in e["name"] for w in ("SECRET", "PASSWORD", "DATABASE_URL")):
                    rule("secretKeyRef" in e.get("valueFrom", {}), f"{label}: {e['name']} is not taken from a Secret")
    cm = find(docs, "ConfigMap")
    for k in cm.get("data", {}):
        rule(not any(w in k for w in ("SECRET", "PASSWORD")), f"{name}: ConfigMap holds {k}")
    hpa = find(docs, "HorizontalPodAutoscaler")
    summary[name] = (
        api["spec"].get("replicas"),
        hpa["spec"]["maxReplicas"],
        str(c["resources"]["limits"]),
        cm["data"].get("INSIGHT_LOG_FORMAT"),
        cm["data"].get("INSIGHT_REDIS_URL"),
        api["metadata"].get("namespace"),
    )

overlays = [summary.get(n) for n in ("dev", "staging", "production")]
if all(overlays):
    fields = ("replicas", "max replicas", "limits", "log format", "Redis URL", "namespace")
    for i, field in enumerate(fields):
        values = [o[i] for o in overlays]
        if field in ("replicas", "limits", "Redis URL", "namespace"):
            rule(len(set(values)) == 3, f"overlays do not differ in {field}: {values}")
    rule(summary["dev"][3] != summary["production"][3], "dev and production log the same format")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
