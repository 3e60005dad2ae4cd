"""The generated dashboards for Grafana on Kubernetes: ConfigMaps for Grafana's dashboard sidecar
(kube-prometheus-stack's default label and folder annotation), and ``GrafanaDashboard`` objects
for the Grafana Operator. Both carry the very JSON written to ``build/grafana/dashboards/``."""

from __future__ import annotations

from typing import Any

from contract.spec import Spec
from dashboards import render as dashboards
from deploy.objects import NAME, k8s_object, metadata

# kube-prometheus-stack's sidecar defaults: sidecar.dashboards.label / .folderAnnotation.
SIDECAR_LABEL = ("grafana_dashboard", "1")
FOLDER_ANNOTATION = "grafana_folder"
DASHBOARD_PREFIX = "grafana/dashboards/"


def _boards(spec: Spec) -> dict[str, str]:
    """uid -> the dashboard's JSON text, exactly as build/grafana/ holds it."""
    return {
        path.removeprefix(DASHBOARD_PREFIX).removesuffix(".json"): text
        for path, text in dashboards.render(spec).items()
        if path.startswith(DASHBOARD_PREFIX)
    }


def sidecar_configmaps(spec: Spec) -> dict[str, dict[str, Any]]:
    found = {}
    for uid, text in _boards(spec).items():
        meta = metadata(spec, f"{NAME}-dashboard-{uid.removeprefix(NAME + '-')}", dict([SIDECAR_LABEL]),
                        annotations={FOLDER_ANNOTATION: spec.kubernetes.grafana_folder})
        found[f"grafana-sidecar/{uid}.yaml"] = k8s_object("v1", "ConfigMap", meta, data={f"{uid}.json": text})
    return found


def operator_dashboards(spec: Spec) -> dict[str, dict[str, Any]]:
    found = {}
    for uid, text in _boards(spec).items():
        meta = metadata(spec, uid)
        found[f"grafana-operator/{uid}.yaml"] = k8s_object("grafana.integreatly.org/v1beta1", "GrafanaDashboard", meta,
                                                           spec={
            "instanceSelector": {"matchLabels": dict(spec.kubernetes.grafana_instance_labels)},
            # The dashboards live beside the exporter; Grafana usually runs in another namespace.
            "allowCrossNamespaceImport": True,
            "folder": spec.kubernetes.grafana_folder,
            "json": text,
        })
    return found
