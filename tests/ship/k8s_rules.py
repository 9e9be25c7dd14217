"""What issues #7 and #17 ask of the Kubernetes manifests, checked on the
rendered output of base and each overlay (files k8s-<name>.yaml in the given
dir). Prints every broken rule and exits non-zero when there is one."""
import json
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


SECRET_MOUNT = "/run/secrets/insight"


def secret_rules(label, spec):
    """Secrets reach the process as files (issue #17, item 8): the
    insight-secrets Secret is a read-only volume (mode 0400) mounted at
    SECRET_MOUNT, each secret setting is an INSIGHT_<KEY>_FILE naming a file
    there, and no secret travels as an env value (no secretKeyRef, no
    secretRef in envFrom, no literal secret value)."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    secret_volumes = [n for n, v in volumes.items() if v.get("secret", {}).get("secretName") == "insight-secrets"]
    rule(len(secret_volumes) == 1, f"{label}: insight-secrets is not mounted as one volume")
    for n in secret_volumes:
        rule(volumes[n]["secret"].get("defaultMode") == 0o400, f"{label}: volume {n} is not mode 0400")
    for ctr in spec["containers"] + spec.get("initContainers", []):
        where = f"{label} container {ctr['name']}"
        mounts = [m for m in ctr.get("volumeMounts", []) if m["name"] in secret_volumes]
        rule(len(mounts) == 1 and mounts[0]["mountPath"] == SECRET_MOUNT and mounts[0].get("readOnly") is True,
             f"{where}: insight-secrets is not mounted read-only at {SECRET_MOUNT}")
        for src in ctr.get("envFrom", []):
            rule("secretRef" not in src, f"{where}: takes a Secret as env (envFrom secretRef)")
        env = {e["name"]: e for e in ctr.get("env", [])}
        for secret in ("INSIGHT_SECRET_KEY", "INSIGHT_JWT_SECRET", "INSIGHT_DATABASE_URL"):
            rule(f"{secret}_FILE" in env, f"{where}: {secret}_FILE is not set")
        for e in env.values():
            rule("secretKeyRef" not in e.get("valueFrom", {}), f"{where}: {e['name']} is a secretKeyRef env value (mount it as a file)")
            if any(w in e["name"] for w in ("SECRET", "PASSWORD", "DATABASE_URL", "API_KEY", "REDIS_URL")):
                rule(e["name"].endswith("_FILE") and str(e.get("value", "")).startswith(SECRET_MOUNT + "/"),
                     f"{where}: {e['name']} is not an INSIGHT_<KEY>_FILE naming a file under {SECRET_MOUNT}")


summary = {}
for name, docs in rendered.items():
    kinds = {d["kind"] for d in docs}
    for kind in (
        "Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "NetworkPolicy", "CronJob",
    ):
        rule(kind in kinds, f"{name}: no {kind}")
    rule("Secret" not in kinds, f"{name}: a Secret with values is part of the manifests")
    api = find(docs, "Deployment", "insight-api")
    worker = find(docs, "Deployment", "insight-worker")
    backup = find(docs, "CronJob", "insight-backup")
    if not (api and worker and backup):
        problems.append(f"{name}: insight-api, insight-worker or insight-backup missing")
        continue
    # Migrations: an init container in every pod that serves, under the
    # migrator's advisory lock, so no tool has to order a Job (Argo CD ran
    # its PreSync hook before the ConfigMap existed).
    rule(find(docs, "Job") is None, f"{name}: a migration Job is still shipped (init containers migrate)")
    for obj in (api, worker):
        inits = {c["name"]: c for c in pod_spec(obj).get("initContainers", [])}
        rule(inits.get("migrate", {}).get("args") == ["migrate"], f"{name}: {obj['metadata']['name']} has no `migrate` init container")
        rule(inits.get("migrate", {}).get("image") == pod_spec(obj)["containers"][0]["image"],
             f"{name}: {obj['metadata']['name']}'s migrate init container runs another image")
    for d in docs:
        rule("argocd.argoproj.io/hook" not in d["metadata"].get("annotations", {}), f"{name}: {d['kind']}/{d['metadata']['name']} carries an Argo CD hook")
    c = pod_spec(api)["containers"][0]
    rule(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health", f"{name}: API liveness is not /health")
    rule(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/health/ready", f"{name}: API readiness is not /health/ready")
    rule(c.get("args") == ["serve"], f"{name}: the API does not run `serve`")
    rule(pod_spec(worker)["containers"][0].get("args") == ["worker"], f"{name}: the worker does not run `worker`")
    rule(pod_spec(backup)["containers"][0].get("args") == ["backup"], f"{name}: the CronJob does not run `backup`")
    env = {e["name"]: e for e in c.get("env", [])}
    rule(env.get("INSIGHT_JOBS__WORKER", {}).get("value") == "false", f"{name}: the API runs an in-process worker")
    for obj in (api, worker, backup):
        label = f"{name}: {obj['kind']}/{obj['metadata']['name']}"
        spec = pod_spec(obj)
        rule(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{label}: pod may run as root")
        rule(spec.get("securityContext", {}).get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{label}: no RuntimeDefault seccomp profile")
        rule(spec.get("automountServiceAccountToken") is False, f"{label}: mounts a service account token")
        for ctr in spec["containers"] + spec.get("initContainers", []):
            sc = ctr.get("securityContext", {})
            rule(sc.get("readOnlyRootFilesystem") is True, f"{label}: root filesystem is writable")
            rule(sc.get("allowPrivilegeEscalation") is False, f"{label}: allows privilege escalation")
            rule(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{label}: keeps capabilities")
            res = ctr.get("resources", {})
            rule({"cpu", "memory"} <= set(res.get("requests", {})), f"{label}: no CPU/memory requests")
            rule({"cpu", "memory"} <= set(res.get("limits", {})), f"{label}: no CPU/memory limits")
            mounts = {m["mountPath"] for m in ctr.get("volumeMounts", [])}
            rule({"/data", "/tmp"} <= mounts, f"{label}: /data and /tmp are not volumes")
        secret_rules(label, spec)
    cm = find(docs, "ConfigMap")
    data = cm.get("data", {})
    # Secrets live in insight-secrets only; a value here would also clash
    # with the pods' INSIGHT_<KEY>_FILE ("set the value or the file").
    for k in data:
        rule(not any(w in k for w in ("SECRET", "PASSWORD", "DATABASE_URL", "API_KEY")), f"{name}: ConfigMap holds {k}")

    # /metrics off the public port: a metrics address on another port, the
    # public Service without it, API and worker probed and scraped there.
    api_port = int(data.get("INSIGHT_SERVER__PORT", "8080"))
    metrics_addr = data.get("INSIGHT_SERVER__METRICS_ADDR", "")
    metrics_port = int(metrics_addr.rsplit(":", 1)[1]) if ":" in metrics_addr else None
    rule(metrics_port is not None and metrics_port != api_port, f"{name}: /metrics is served on the public port (INSIGHT_SERVER__METRICS_ADDR unset)")
    public = find(docs, "Service", "insight-api")
    rule(public is not None and all(p.get("targetPort") in ("http", api_port) for p in public["spec"]["ports"]),
         f"{name}: the public Service exposes more than the API port")
    for obj in (api, worker):
        ctr = pod_spec(obj)["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in ctr.get("ports", [])}
        rule(ports.get("metrics") == metrics_port, f"{name}: {obj['metadata']['name']} has no metrics port {metrics_port}")
        rule(obj["spec"]["template"]["metadata"].get("labels", {}).get("insight-engine/metrics") == "true",
             f"{name}: {obj['metadata']['name']} is not selected by the insight-metrics Service")
    wc = pod_spec(worker)["containers"][0]
    rule(wc.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health", f"{name}: worker liveness is not /health")
    rule(wc.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/health/ready", f"{name}: worker readiness is not /health/ready")
    rule(find(docs, "Service", "insight-metrics") is not None, f"{name}: no insight-metrics Service")

    # Draining: preStop sleep + drain + shutdown grace fit in the grace period.
    drain = int(data.get("INSIGHT_SERVER__DRAIN_SECS", "5"))
    grace = int(data.get("INSIGHT_SERVER__SHUTDOWN_GRACE_SECS", "20"))
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_secs = int(pre[1]) if len(pre) == 2 and pre[0] == "sleep" and pre[1].isdigit() else None
    rule(pre_secs is not None and pre_secs > 0, f"{name}: the API has no preStop sleep (endpoints are removed asynchronously)")
    needed = (pre_secs or 0) + drain + grace
    tgps = pod_spec(api).get("terminationGracePeriodSeconds", 30)
    rule(tgps > needed, f"{name}: API terminationGracePeriodSeconds {tgps} <= preStop {pre_secs} + drain {drain} + grace {grace}")
    wtgps = pod_spec(worker).get("terminationGracePeriodSeconds", 30)
    rule(wtgps > grace, f"{name}: worker terminationGracePeriodSeconds {wtgps} <= shutdown grace {grace}")

    # The HPA owns the API's replica count.
    rule("replicas" not in api["spec"], f"{name}: insight-api sets spec.replicas (resets the HPA on every apply)")
    spread = pod_spec(api).get("topologySpreadConstraints", [])
    rule({t["topologyKey"] for t in spread} >= {"kubernetes.io/hostname", "topology.kubernetes.io/zone"},
         f"{name}: API pods are not spread over nodes and zones")
    rule("podAntiAffinity" in pod_spec(api).get("affinity", {}), f"{name}: API pods have no anti-affinity")

    # Backups: the CronJob is the only pod that mounts the backup claim.
    def claims(obj):
        return {v.get("persistentVolumeClaim", {}).get("claimName") for v in pod_spec(obj).get("volumes", [])} - {None}
    for obj in (api, worker):
        rule(not claims(obj), f"{name}: {obj['metadata']['name']} mounts {claims(obj)} (the backup CronJob must be its only writer)")
    rule(claims(backup) == {"insight-backups"}, f"{name}: the backup CronJob does not mount insight-backups")

    # Network: TLS Redis and OTLP are reachable.
    egress_ports = {p["port"] for np in docs if np["kind"] == "NetworkPolicy"
                    for e in np["spec"].get("egress", []) for p in e.get("ports", [])}
    for port in (6380, 4317, 4318):
        rule(port in egress_ports, f"{name}: egress to port {port} is blocked")

    # Behind an ingress: X-Forwarded-For believed from the controller's range.
    proxies = data.get("INSIGHT_AUTH__TRUSTED_PROXIES", "")
    rule(proxies.startswith("[") and "/" in proxies, f"{name}: auth.trusted_proxies names no CIDR range")
    try:
        json.loads(proxies)
    except ValueError:
        problems.append(f"{name}: INSIGHT_AUTH__TRUSTED_PROXIES is not a list: {proxies}")

    if name != "base":
        ns = find(docs, "Namespace")
        labels = (ns or {}).get("metadata", {}).get("labels", {})
        rule(labels.get("pod-security.kubernetes.io/enforce") == "restricted", f"{name}: the namespace does not enforce the restricted Pod Security Standard")
    if name == "production":
        rule(data.get("INSIGHT_REDIS_URL", "").startswith("rediss://"), f"{name}: Redis outside the cluster without TLS")
        rule(data.get("INSIGHT_RETRIEVAL__CHROMA_URL", "").startswith("https://"), f"{name}: Chroma outside the cluster without TLS")

    hpa = find(docs, "HorizontalPodAutoscaler")
    summary[name] = (
        hpa["spec"]["minReplicas"],
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

# The restore example runs with the same secrets, the same way.
examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "k8s", "examples")
with open(os.path.join(examples, "restore-job.yaml"), encoding="utf-8") as f:
    restore = find([d for d in yaml.safe_load_all(f) if d], "Job")
if restore is None:
    problems.append("k8s/examples/restore-job.yaml: no Job")
else:
    secret_rules("k8s/examples/restore-job.yaml", pod_spec(restore))

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
