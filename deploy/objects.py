"""What every generated Kubernetes object shares: names, labels and the metadata block."""

from __future__ import annotations

from typing import Any

from alerts.prometheus_config import EXPORTER_JOB, Targets
from contract.spec import Spec

NAME = EXPORTER_JOB
# The Prometheus Operator names the scrape job after this Service label's value (jobLabel), so
# the exporter's series carry job="gatewatch", which the rules select.
JOB_LABEL = "app.kubernetes.io/name"
EXPORTER_PORT = int(Targets().exporters[0].rpartition(":")[2])
PORT_NAME = "http"


def common_labels() -> dict[str, str]:
    return {JOB_LABEL: NAME, "app.kubernetes.io/part-of": NAME, "app.kubernetes.io/managed-by": "gatewatch-generate"}


def exporter_selector() -> dict[str, str]:
    return {JOB_LABEL: NAME, "app.kubernetes.io/component": "exporter"}


def metadata(spec: Spec, name: str, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": spec.kubernetes.namespace,
        "labels": {**common_labels(), **(labels or {})},
    }
    meta.update(extra)
    return meta


def k8s_object(api_version: str, kind: str, meta: dict[str, Any], **body: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}
