"""The exporter as a StatefulSet, with its Service, disruption budget, network policy, the spec it
runs, and the namespace it lives in.

Why a StatefulSet, not a Deployment: every replica keeps its own state directory (counters, tail
offsets, the duplicate window) and audit trail, which must survive restarts and must never be
written by two pods at once. A StatefulSet gives each replica its own volume and a stable name;
the same pod comes back to the same volume, so its counters continue under the same ``instance``
and ``increase()`` loses nothing. A Deployment would either share one volume between replicas
(and, during a rolling update, between old and new pods) or lose the state on every restart.
"""

from __future__ import annotations

from typing import Any

import msgspec

from alerts.yamlout import dump
from contract.spec import Spec, spec_hash
from deploy.objects import EXPORTER_PORT, NAME, PORT_NAME, exporter_selector, k8s_object, metadata

SPEC_CONFIGMAP = f"{NAME}-spec"
SPEC_KEY = "ops.yaml"
# Create it yourself (docs/kubernetes.md): the token never passes through a generated file.
INGEST_SECRET = f"{NAME}-ingest"
INGEST_SECRET_KEY = "token"
DATA_DIR = "/var/lib/gatewatch"
SPEC_DIR = "/etc/gatewatch"
# The image's user and group (Dockerfile): numeric, so runAsNonRoot can be verified.
RUN_AS = 10001
# "restricted" Pod Security Standard, enforced on the namespace so a drift is refused at admission.
POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def namespace(spec: Spec) -> dict[str, Any]:
    return k8s_object("v1", "Namespace", {"name": spec.kubernetes.namespace, "labels": dict(POD_SECURITY_LABELS)})


def spec_configmap(spec: Spec) -> dict[str, Any]:
    """The spec the exporter runs: the loaded spec written back, so it is the one validated here."""
    text = dump(msgspec.to_builtins(spec))
    return k8s_object("v1", "ConfigMap", metadata(spec, SPEC_CONFIGMAP), data={SPEC_KEY: text})


def service(spec: Spec) -> dict[str, Any]:
    return k8s_object("v1", "Service", metadata(spec, NAME, exporter_selector()), spec={
        "selector": exporter_selector(),
        "ports": [{"name": PORT_NAME, "port": EXPORTER_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
    })


def headless_service(spec: Spec) -> dict[str, Any]:
    """The StatefulSet's governing Service: stable per-pod DNS names."""
    return k8s_object("v1", "Service", metadata(spec, f"{NAME}-pods", exporter_selector()), spec={
        "clusterIP": "None",
        "selector": exporter_selector(),
        "ports": [{"name": PORT_NAME, "port": EXPORTER_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
    })


def statefulset(spec: Spec) -> dict[str, Any]:
    k8s = spec.kubernetes
    claim: dict[str, Any] = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": k8s.storage_size}}},
    }
    if k8s.storage_class:
        claim["spec"]["storageClassName"] = k8s.storage_class
    return k8s_object("apps/v1", "StatefulSet", metadata(spec, NAME, exporter_selector()), spec={
        "serviceName": f"{NAME}-pods",
        "replicas": k8s.replicas,
        # Replicas are independent (each counts what it was sent): no need to start them in order.
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": exporter_selector()},
        "template": {
            "metadata": {
                "labels": exporter_selector(),
                # A changed spec changes the pod template, so the replicas roll onto it.
                "annotations": {"gatewatch.dev/spec-hash": spec_hash(spec)},
            },
            "spec": _pod(spec),
        },
        "volumeClaimTemplates": [claim],
    })


def _pod(spec: Spec) -> dict[str, Any]:
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Counters are written atomically every few seconds; this is ample to write the last one.
        "terminationGracePeriodSeconds": 30,
        "containers": [_container(spec)],
        "volumes": [
            {"name": "spec", "configMap": {"name": SPEC_CONFIGMAP}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ],
    }


def _container(spec: Spec) -> dict[str, Any]:
    k8s = spec.kubernetes
    args = [
        "--spec", f"{SPEC_DIR}/{SPEC_KEY}",
        "--listen", f"0.0.0.0:{EXPORTER_PORT}",
        "--state-dir", f"{DATA_DIR}/state",
        "--audit-dir", f"{DATA_DIR}/audit",
    ]
    env = []
    if spec.ingest.token_env:
        env.append({"name": spec.ingest.token_env, "valueFrom": {
            "secretKeyRef": {"name": INGEST_SECRET, "key": INGEST_SECRET_KEY},
        }})
    return {
        "name": "exporter",
        "image": k8s.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", "exporter"],
        "args": args,
        "env": env,
        "ports": [{"name": PORT_NAME, "containerPort": EXPORTER_PORT, "protocol": "TCP"}],
        "readinessProbe": _probe("/readyz", period=5, failures=3),
        "livenessProbe": _probe("/healthz", period=15, failures=4),
        "startupProbe": _probe("/healthz", period=2, failures=30),
        "resources": {
            "requests": {"cpu": k8s.resources.cpu_request, "memory": k8s.resources.memory_request},
            "limits": {"memory": k8s.resources.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_DIR},
            {"name": "spec", "mountPath": SPEC_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def disruption_budget(spec: Spec) -> dict[str, Any]:
    # One replica at a time: gateways retry, and the others keep accepting meanwhile.
    return k8s_object("policy/v1", "PodDisruptionBudget", metadata(spec, NAME), spec={
        "maxUnavailable": 1,
        "selector": {"matchLabels": exporter_selector()},
    })


def network_policy(spec: Spec) -> dict[str, Any]:
    """Ingest only from the gateway's namespace; scrapes only from Prometheus. Both use the one
    port, so the ingest token (not the policy) is what keeps Prometheus from posting records."""
    k8s = spec.kubernetes
    port = [{"protocol": "TCP", "port": PORT_NAME}]
    return k8s_object("networking.k8s.io/v1", "NetworkPolicy", metadata(spec, NAME), spec={
        "podSelector": {"matchLabels": exporter_selector()},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"namespaceSelector": {"matchLabels": _namespace_label(k8s.gateway_namespace)}}], "ports": port},
            {"from": [{
                "namespaceSelector": {"matchLabels": _namespace_label(k8s.prometheus_namespace)},
                "podSelector": {"matchLabels": dict(k8s.prometheus_pod_labels)},
            }], "ports": port},
        ],
    })


def _namespace_label(name: str) -> dict[str, str]:
    # Set by Kubernetes on every namespace since 1.21.
    return {"kubernetes.io/metadata.name": name}


def objects(spec: Spec) -> dict[str, dict[str, Any]]:
    return {
        "namespace.yaml": namespace(spec),
        "exporter/configmap-spec.yaml": spec_configmap(spec),
        "exporter/service.yaml": service(spec),
        "exporter/service-pods.yaml": headless_service(spec),
        "exporter/statefulset.yaml": statefulset(spec),
        "exporter/poddisruptionbudget.yaml": disruption_budget(spec),
        "exporter/networkpolicy.yaml": network_policy(spec),
    }
