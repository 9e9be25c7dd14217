"""Extract the rule groups of k8s/monitoring's PrometheusRule (rendered by
kustomize) into a plain Prometheus rules file for promtool, and check that
every insight_* metric the rules and the Grafana dashboard name is one the
service records (src/observability/metrics.rs).

usage: prometheus_rules.py RENDERED_MONITORING_YAML DASHBOARD_JSON OUT_RULES_FILE"""
import re
import sys

import yaml

rendered, dashboard, out = sys.argv[1:4]
docs = [d for d in yaml.safe_load_all(open(rendered, encoding="utf-8")) if d]
rules = [d for d in docs if d["kind"] == "PrometheusRule"]
problems = []
if len(rules) != 1:
    problems.append(f"expected one PrometheusRule, found {len(rules)}")
else:
    with open(out, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": rules[0]["spec"]["groups"]}, f, sort_keys=False)
kinds = {d["kind"] for d in docs}
for kind in ("ServiceMonitor", "PrometheusRule", "ConfigMap"):
    if kind not in kinds:
        problems.append(f"no {kind} in k8s/monitoring")

source = open("src/observability/metrics.rs", encoding="utf-8").read()
recorded = set(re.findall(r'"(insight_[a-z0-9_]+)"', source))
texts = [open(rendered, encoding="utf-8").read(), open(dashboard, encoding="utf-8").read()]
named = set()
for text in texts:
    named |= set(re.findall(r"\b(insight_[a-z0-9_]+)", text))
for name in sorted(named):
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if name not in recorded and base not in recorded:
        problems.append(f"{name} is named in the alerts or the dashboard but the service records no such metric")
alerts = {r.get("alert") for g in (rules[0]["spec"]["groups"] if rules else []) for r in g["rules"]}
for wanted in ("InsightHighErrorRate", "InsightHighLatencyP99", "InsightNotReady", "InsightJobsFailing",
               "InsightBackupTooOld", "InsightLlmErrors", "InsightPgDumpTooOld"):
    if wanted not in alerts:
        problems.append(f"alert {wanted} is missing")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
