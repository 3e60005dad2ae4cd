"""Prometheus Operator objects: the generated rules as PrometheusRules, and the ServiceMonitor
that scrapes the exporter the way ``build/prometheus/prometheus.yml`` does."""

from __future__ import annotations

from typing import Any

import yaml

from alerts import prometheus_rules
from alerts.prometheus_config import ALERTING_RULES, RECORDING_RULES, SAMPLE_LIMIT, Targets
from contract.spec import Spec
from deploy.objects import JOB_LABEL, NAME, PORT_NAME, exporter_selector, k8s_object, metadata

MONITORING_API = "monitoring.coreos.com/v1"
RULE_FILES = {"recording": RECORDING_RULES, "alerts": ALERTING_RULES}


def prometheus_rules_objects(spec: Spec) -> dict[str, dict[str, Any]]:
    """One PrometheusRule per generated rule file, holding exactly that file's groups."""
    rendered = prometheus_rules.render(spec)
    found = {}
    for kind, path in RULE_FILES.items():
        groups = yaml.safe_load(rendered[f"prometheus/{path}"])["groups"]
        meta = metadata(spec, f"{NAME}-{kind}", dict(spec.kubernetes.operator_labels))
        found[f"prometheus-operator/prometheusrule-{kind}.yaml"] = k8s_object(
            MONITORING_API, "PrometheusRule", meta, spec={"groups": groups}
        )
    return found


def service_monitor(spec: Spec) -> dict[str, Any]:
    meta = metadata(spec, NAME, dict(spec.kubernetes.operator_labels))
    return k8s_object(MONITORING_API, "ServiceMonitor", meta, spec={
        "jobLabel": JOB_LABEL,
        "selector": {"matchLabels": exporter_selector()},
        "namespaceSelector": {"matchNames": [spec.kubernetes.namespace]},
        "sampleLimit": SAMPLE_LIMIT,
        "endpoints": [{"port": PORT_NAME, "path": "/metrics", "interval": Targets().scrape_interval}],
    })


def discovery_role(spec: Spec) -> dict[str, Any]:
    """What Prometheus needs to find the exporter's targets here when its own RBAC is per
    namespace (kube-prometheus); redundant, and harmless, under a cluster-wide role."""
    return k8s_object("rbac.authorization.k8s.io/v1", "Role", metadata(spec, f"{NAME}-prometheus-discovery"), rules=[
        {"apiGroups": [""], "resources": ["services", "endpoints", "pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
    ])


def discovery_role_binding(spec: Spec) -> dict[str, Any]:
    k8s = spec.kubernetes
    name = f"{NAME}-prometheus-discovery"
    return k8s_object("rbac.authorization.k8s.io/v1", "RoleBinding", metadata(spec, name),
                      roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                      subjects=[{"kind": "ServiceAccount", "name": k8s.prometheus_service_account,
                                 "namespace": k8s.prometheus_namespace}])


def objects(spec: Spec) -> dict[str, dict[str, Any]]:
    return {
        **prometheus_rules_objects(spec),
        "prometheus-operator/servicemonitor.yaml": service_monitor(spec),
        "prometheus-operator/role-discovery.yaml": discovery_role(spec),
        "prometheus-operator/rolebinding-discovery.yaml": discovery_role_binding(spec),
    }
