"""build/kubernetes/: every object validates offline (Kubernetes' own schemas for built-in kinds,
the operators' CRD schemas for theirs), holds exactly what build/ holds elsewhere, meets the
"restricted" Pod Security Standard, and carries no secret."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from contract import spec as spec_model
from deploy import alertmanager, render
from generate import main as generate_main
from generate import render_all, write
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.binaries import require

SCHEMAS = ROOT / "tests" / "schemas"
CRDS = {
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "prometheus-operator/monitoring.coreos.com_servicemonitors.yaml",
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"):
        "prometheus-operator/monitoring.coreos.com_alertmanagerconfigs.yaml",
    ("grafana.integreatly.org/v1beta1", "GrafanaDashboard"):
        "grafana-operator/grafana.integreatly.org_grafanadashboards.yaml",
}
KUBERNETES_VERSION = kubernetes_validate.utils.latest_version()


class _CrdLoader(yaml.CSafeLoader):
    """The CRDs list the matcher operator ``=`` unquoted, which YAML 1.1 reads as a 'value' tag."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@pytest.fixture(scope="module")
def spec() -> spec_model.Spec:
    return spec_model.load(EXAMPLE_SPEC)


@pytest.fixture(scope="module")
def files(spec: spec_model.Spec) -> dict[str, str]:
    return render_all(spec)


@pytest.fixture(scope="module")
def objects(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every object under build/kubernetes/, read back from the rendered YAML."""
    return {
        path: yaml.safe_load(text)
        for path, text in files.items()
        if path.startswith("kubernetes/") and path.endswith(".yaml") and "/alertmanager/" not in path
        and not path.endswith("kustomization.yaml")
    }


def _kind(objects: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects.values() if obj["kind"] == kind]


def _one(objects: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = _kind(objects, kind)
    return found


# -- schemas -------------------------------------------------------------------------------------


@cache
def crd_validator(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    """The CRD's schema for that version, made strict: the API server would silently prune an
    unknown field (a typo), so here it is an error. The schema itself is not meta-checked: its
    patterns are Go regular expressions, some of which Python's cannot compile (fields gatewatch
    does not use)."""
    crd = yaml.load((SCHEMAS / CRDS[api_version, kind]).read_text(), Loader=_CrdLoader)
    version = api_version.rpartition("/")[2]
    (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return jsonschema.Draft7Validator(_strict(entry["schema"]["openAPIV3Schema"]))


def _strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {k: _strict(v) for k, v in schema.items()}
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        strict.setdefault("additionalProperties", False)
    return strict


# What the API server checks beyond the OpenAPI schema: names and labels (apimachinery validation).
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def validate(obj: dict[str, Any]) -> None:
    """Raise when ``obj`` is not a valid object of its kind."""
    key = (obj["apiVersion"], obj["kind"])
    if key in CRDS:
        crd_validator(*key).validate(obj)
        # CRD schemas leave metadata to the API server: check it as Kubernetes' ObjectMeta.
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]},
                                     KUBERNETES_VERSION, strict=True)
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    _validate_names(obj["metadata"])


def _validate_names(meta: dict[str, Any]) -> None:
    if not (_DNS_SUBDOMAIN.match(meta["name"]) and len(meta["name"]) <= 253):
        raise jsonschema.ValidationError(f"metadata.name {meta['name']!r} is not a DNS subdomain")
    for key in {**meta.get("labels", {}), **meta.get("annotations", {})}:
        prefix, _, name = key.rpartition("/")
        if (prefix and not _DNS_SUBDOMAIN.match(prefix)) or not _LABEL_NAME.match(name):
            raise jsonschema.ValidationError(f"metadata key {key!r} is not a qualified name")
    for key, value in meta.get("labels", {}).items():
        if not _LABEL_VALUE.match(value):
            raise jsonschema.ValidationError(f"label {key}={value!r}: not a valid label value")


def test_every_kind_the_build_holds_is_validated_by_a_schema(objects: dict[str, dict[str, Any]]) -> None:
    kinds = {(o["apiVersion"], o["kind"]) for o in objects.values()}
    assert set(CRDS) <= kinds
    assert {("apps/v1", "StatefulSet"), ("v1", "Service"), ("policy/v1", "PodDisruptionBudget"),
            ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
            ("networking.k8s.io/v1", "NetworkPolicy"), ("v1", "ConfigMap"), ("v1", "Namespace")} <= kinds


def test_every_object_validates_against_its_schema(objects: dict[str, dict[str, Any]]) -> None:
    for path, obj in objects.items():
        try:
            validate(obj)
        except (jsonschema.ValidationError, kubernetes_validate.utils.ValidationError) as err:
            pytest.fail(f"{path}: {str(err)[:600]}")


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    broken = json.loads(json.dumps(obj))
    node = broken
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return broken


@pytest.mark.parametrize(("kind", "path", "value"), [
    ("StatefulSet", "spec.template.spec.containers.0.securityContxt", {}),
    ("StatefulSet", "spec.replicas", "two"),
    ("NetworkPolicy", "spec.policyTypes", "Ingress"),
    ("PrometheusRule", "spec.groups.0.rules.0.expression", "up"),
    ("PrometheusRule", "spec.groups.0.interval", "an hour"),
    ("ServiceMonitor", "spec.endpoints.0.prot", "http"),
    ("AlertmanagerConfig", "spec.route.matchers.0.matchType", "=="),
    ("AlertmanagerConfig", "spec.receivers.0.pagerdutyConfigs.0.routingKey", "inline-key"),
    ("GrafanaDashboard", "spec.instanceSelector", None),
    ("GrafanaDashboard", "metadata.labels", {"bad label!": "x"}),
    ("ConfigMap", "metadata.labels", {"app": "not a value"}),
    ("PrometheusRule", "metadata.name", "Gatewatch_Rules"),
])
def test_validation_catches_a_broken_object(objects: dict[str, dict[str, Any]], kind: str, path: str,
                                            value: Any) -> None:
    broken = _set(_kind(objects, kind)[0], path, value)
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.utils.ValidationError)):
        validate(broken)


def test_kustomizations_list_every_object_once(files: dict[str, str], objects: dict[str, dict[str, Any]]) -> None:
    root = yaml.safe_load(files["kubernetes/kustomization.yaml"])["resources"]
    grafana = yaml.safe_load(files["kubernetes/grafana-operator/kustomization.yaml"])["resources"]
    listed = [f"kubernetes/{p}" for p in root] + [f"kubernetes/grafana-operator/{p}" for p in grafana]
    assert sorted(listed) == sorted(objects)
    # The Grafana Operator's CRD is not in every cluster: its objects are applied on their own.
    assert all(objects[f"kubernetes/grafana-operator/{p}"]["kind"] == "GrafanaDashboard" for p in grafana)
    assert not any(objects[f"kubernetes/{p}"]["kind"] == "GrafanaDashboard" for p in root)


# -- same content as build/ ---------------------------------------------------------------------


def test_prometheus_rules_hold_exactly_the_generated_rule_files(files: dict[str, str],
                                                                objects: dict[str, dict[str, Any]]) -> None:
    held = {obj["metadata"]["name"]: obj["spec"]["groups"] for obj in _kind(objects, "PrometheusRule")}
    assert held == {
        "gatewatch-recording": yaml.safe_load(files["prometheus/rules/gatewatch-recording.yml"])["groups"],
        "gatewatch-alerts": yaml.safe_load(files["prometheus/rules/gatewatch-alerts.yml"])["groups"],
    }


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory, files: dict[str, str],
              objects: dict[str, dict[str, Any]]) -> Path:
    """The PrometheusRules' groups written out as rule files, beside build/'s promtool tests."""
    out = tmp_path_factory.mktemp("from-prometheusrules")
    for obj in _kind(objects, "PrometheusRule"):
        target = out / "rules" / f"{obj['metadata']['name']}.yml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump({"groups": obj["spec"]["groups"]}, sort_keys=False))
    for path, text in files.items():
        if path.startswith("prometheus/tests/"):
            target = out / "tests" / Path(path).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    return out


@pytest.mark.binaries
def test_rules_inside_prometheusrules_pass_promtool_check_rules(extracted: Path) -> None:
    rules = sorted((extracted / "rules").glob("*.yml"))
    assert len(rules) == 2
    run = subprocess.run([require("promtool"), "check", "rules", "--lint=all", "--lint-fatal", *map(str, rules)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.binaries
@pytest.mark.slow
def test_rules_inside_prometheusrules_pass_the_same_promtool_unit_tests(extracted: Path) -> None:
    tests = sorted((extracted / "tests").glob("*.test.yml"))
    assert tests
    for test in tests:  # the unit tests name ../rules/<file>: the extracted ones, not build/'s
        assert "../rules/gatewatch-recording.yml" in test.read_text()
    run = subprocess.run([require("promtool"), "test", "rules", *map(str, tests)],
                         capture_output=True, text=True, check=False, cwd=extracted / "tests")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_dashboard_configmaps_and_grafana_dashboards_hold_build_grafana(
        files: dict[str, str], objects: dict[str, dict[str, Any]], spec: spec_model.Spec) -> None:
    boards = {Path(p).stem: text for p, text in files.items() if p.startswith("grafana/dashboards/")}
    assert len(boards) >= 5
    sidecar = {}
    for cm in _kind(objects, "ConfigMap"):
        if cm["metadata"]["labels"].get("grafana_dashboard") == "1":
            assert cm["metadata"]["annotations"] == {"grafana_folder": spec.kubernetes.grafana_folder}
            ((key, text),) = cm["data"].items()
            sidecar[key.removesuffix(".json")] = text
    assert sidecar == boards
    operator = {gd["metadata"]["name"]: gd["spec"]["json"] for gd in _kind(objects, "GrafanaDashboard")}
    assert operator == boards
    for gd in _kind(objects, "GrafanaDashboard"):
        assert gd["spec"]["folder"] == spec.kubernetes.grafana_folder
        assert gd["spec"]["instanceSelector"] == {"matchLabels": spec.kubernetes.grafana_instance_labels}


def test_collector_configmap_holds_build_otel_collector(files: dict[str, str],
                                                        objects: dict[str, dict[str, Any]]) -> None:
    (cm,) = [o for o in _kind(objects, "ConfigMap") if o["metadata"]["name"] == "gatewatch-otel-collector"]
    assert cm["data"] == {"config.yaml": files["otel-collector/config.yaml"]}


def test_spec_configmap_loads_as_the_same_spec(objects: dict[str, dict[str, Any]], spec: spec_model.Spec) -> None:
    (cm,) = [o for o in _kind(objects, "ConfigMap") if o["metadata"]["name"] == "gatewatch-spec"]
    loaded = spec_model.parse(cm["data"]["ops.yaml"], "configmap")
    assert loaded == spec
    template = _one(objects, "StatefulSet")["spec"]["template"]
    assert template["metadata"]["annotations"]["gatewatch.dev/spec-hash"] == spec_model.spec_hash(spec)


# -- scraping, selection, routing ---------------------------------------------------------------


def test_servicemonitor_job_label_is_the_job_the_rules_select(objects: dict[str, dict[str, Any]]) -> None:
    monitor = _one(objects, "ServiceMonitor")
    (service,) = [s for s in _kind(objects, "Service")
                  if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
                  and s["spec"].get("clusterIP") != "None"]
    # The operator sets job to the value of the Service label that jobLabel names.
    job = service["metadata"]["labels"][monitor["spec"]["jobLabel"]]
    alerts = json.dumps(_kind(objects, "PrometheusRule"))
    selected = set(re.findall(r'up\{job=\\"([^\\"]+)\\"', alerts))
    assert selected == {job}
    port_names = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names
    assert service["spec"]["selector"].items() <= _one(objects, "StatefulSet")["spec"]["template"]["metadata"][
        "labels"].items()


def test_prometheus_may_discover_the_exporter_in_its_namespace(objects: dict[str, dict[str, Any]],
                                                               spec: spec_model.Spec) -> None:
    role, binding = _one(objects, "Role"), _one(objects, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": spec.kubernetes.prometheus_service_account,
                                    "namespace": spec.kubernetes.prometheus_namespace}]
    granted = {(group, resource) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] if {"list", "watch"} <= set(rule["verbs"])}
    # What the ServiceMonitor's endpoints role lists and watches.
    assert {("", "services"), ("", "endpoints"), ("", "pods"), ("discovery.k8s.io", "endpointslices")} <= granted


def test_operator_objects_carry_the_labels_the_operator_selects(objects: dict[str, dict[str, Any]],
                                                                 spec: spec_model.Spec) -> None:
    for kind in ("PrometheusRule", "ServiceMonitor", "AlertmanagerConfig"):
        for obj in _kind(objects, kind):
            assert spec.kubernetes.operator_labels.items() <= obj["metadata"]["labels"].items(), kind


def test_network_policy_admits_the_gateway_namespace_and_prometheus_only(objects: dict[str, dict[str, Any]],
                                                                         spec: spec_model.Spec) -> None:
    policy = _one(objects, "NetworkPolicy")["spec"]
    sources = [peer for rule in policy["ingress"] for peer in rule["from"]]
    assert sources == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": spec.kubernetes.gateway_namespace}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": spec.kubernetes.prometheus_namespace}},
         "podSelector": {"matchLabels": spec.kubernetes.prometheus_pod_labels}},
    ]
    assert policy["policyTypes"] == ["Ingress"]


@pytest.mark.parametrize(("text", "expected"), [
    ('alertname="Watchdog"', {"name": "alertname", "matchType": "=", "value": "Watchdog"}),
    ('team=~"__unassigned__|__other__"', {"name": "team", "matchType": "=~", "value": "__unassigned__|__other__"}),
    ('provider!="a\\"b"', {"name": "provider", "matchType": "!=", "value": 'a"b'}),
    ('x!~"a\\\\.b"', {"name": "x", "matchType": "!~", "value": "a\\.b"}),
    ('team=~"search\\-ai|ops"', {"name": "team", "matchType": "=~", "value": "search\\-ai|ops"}),
])
def test_alertmanager_matchers_convert_to_the_crd_form(text: str, expected: dict[str, str]) -> None:
    assert alertmanager.matcher(text) == expected


@given(name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True), op=st.sampled_from(["=", "!=", "=~", "!~"]),
       value=st.text(max_size=40))
def test_alertmanager_matchers_round_trip(name: str, op: str, value: str) -> None:
    """Any matcher the routing writes (a label, an operator, a quoted value) reads back as itself."""
    quoted = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    assert alertmanager.matcher(f'{name}{op}"{quoted}"') == {"name": name, "matchType": op, "value": value}


def test_alertmanager_matcher_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="not an Alertmanager matcher"):
        alertmanager.matcher("team = search")


def test_alertmanager_config_names_secrets_by_reference_only(objects: dict[str, dict[str, Any]],
                                                             spec: spec_model.Spec) -> None:
    config = _one(objects, "AlertmanagerConfig")
    text = json.dumps(config)
    assert "_file" not in text
    refs = re.findall(r'\{"name": "gatewatch-alertmanager", "key": "([^"]+)"\}', text)
    # Every *_file the spec names becomes a key of the one Secret; nothing else does.
    assert sorted(set(refs)) == alertmanager.secret_keys(spec)
    assert {"smtp-password", "pagerduty-routing-key", "deadman-token"} <= set(refs)


def test_alertmanager_config_routes_to_every_receiver_it_defines(objects: dict[str, dict[str, Any]]) -> None:
    config = _one(objects, "AlertmanagerConfig")["spec"]

    def named(route: dict[str, Any]) -> set[str]:
        return {route.get("receiver")} | {r for child in route.get("routes", []) for r in named(child)}

    assert named(config["route"]) - {None} == {r["name"] for r in config["receivers"]}


@pytest.mark.binaries
def test_plain_alertmanager_yaml_passes_amtool(files: dict[str, str], tmp_path: Path) -> None:
    config = yaml.safe_load(files["kubernetes/alertmanager/alertmanager.yaml"])
    assert config["templates"] == ["/etc/alertmanager/config/gatewatch.tmpl"]
    # amtool reads the templates: point it at the rendered copy.
    (tmp_path / "gatewatch.tmpl").write_text(files["kubernetes/alertmanager/gatewatch.tmpl"])
    config["templates"] = [str(tmp_path / "gatewatch.tmpl")]
    (tmp_path / "alertmanager.yaml").write_text(yaml.safe_dump(config))
    run = subprocess.run([require("amtool"), "check-config", str(tmp_path / "alertmanager.yaml")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    paths = re.findall(r"_file: (\S+)", files["kubernetes/alertmanager/alertmanager.yaml"])
    assert paths and all(p.startswith("/etc/alertmanager/secrets/gatewatch-alertmanager/") for p in paths)


# -- the exporter's pod -------------------------------------------------------------------------

# Kubernetes' "restricted" Pod Security Standard, as (what it requires, check over the pod spec).
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    found = []
    containers = pod.get("containers", []) + pod.get("initContainers", [])
    pod_context = pod.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            found.append(flag)
    for volume in pod.get("volumes", []):
        if not set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES:
            found.append(f"volume {volume['name']}")
    for c in containers:
        context = c.get("securityContext", {})
        if context.get("privileged"):
            found.append(f"{c['name']}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{c['name']}: allowPrivilegeEscalation")
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            found.append(f"{c['name']}: runAsNonRoot")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            found.append(f"{c['name']}: runAsUser 0")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{c['name']}: seccompProfile")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []) or set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{c['name']}: capabilities")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            found.append(f"{c['name']}: hostPort")
        # Beyond the standard, what the exporter promises: nothing writes outside its volumes.
        if context.get("readOnlyRootFilesystem") is not True:
            found.append(f"{c['name']}: readOnlyRootFilesystem")
    return found


def test_exporter_pod_meets_the_restricted_pod_security_standard(objects: dict[str, dict[str, Any]]) -> None:
    pod = _one(objects, "StatefulSet")["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    namespace = _one(objects, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize(("path", "value", "violation"), [
    ("containers.0.securityContext.allowPrivilegeEscalation", True, "allowPrivilegeEscalation"),
    ("containers.0.securityContext.runAsNonRoot", False, "runAsNonRoot"),
    ("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}, "capabilities"),
    ("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}, "seccompProfile"),
    ("containers.0.securityContext.readOnlyRootFilesystem", False, "readOnlyRootFilesystem"),
    ("containers.0.securityContext.privileged", True, "privileged"),
    ("hostNetwork", True, "hostNetwork"),
    ("volumes.0", {"name": "host", "hostPath": {"path": "/"}}, "volume host"),
])
def test_restricted_check_catches_each_violation(objects: dict[str, dict[str, Any]], path: str, value: Any,
                                                 violation: str) -> None:
    pod = _set(_one(objects, "StatefulSet")["spec"]["template"]["spec"], path, value)
    assert any(violation in v for v in restricted_violations(pod))


def test_exporter_runs_as_the_images_user() -> None:
    from deploy.workload import RUN_AS
    user = re.search(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert user is not None
    assert (int(user[1]), int(user[2])) == (RUN_AS, RUN_AS)


def test_exporter_pod_takes_resources_image_and_token_from_the_spec(objects: dict[str, dict[str, Any]],
                                                                    spec: spec_model.Spec) -> None:
    k8s = spec.kubernetes
    statefulset = _one(objects, "StatefulSet")["spec"]
    (container,) = statefulset["template"]["spec"]["containers"]
    assert container["image"] == k8s.image
    assert container["resources"] == {
        "requests": {"cpu": k8s.resources.cpu_request, "memory": k8s.resources.memory_request},
        "limits": {"memory": k8s.resources.memory_limit},
    }
    assert statefulset["replicas"] == k8s.replicas
    assert container["env"] == [{"name": spec.ingest.token_env, "valueFrom": {
        "secretKeyRef": {"name": "gatewatch-ingest", "key": "token"}}}]
    assert {p["httpGet"]["path"] for k in ("readinessProbe", "livenessProbe") for p in [container[k]]} == {
        "/readyz", "/healthz"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    args = container["args"]
    for flag in ("--state-dir", "--audit-dir"):  # both on the persistent volume
        directory = args[args.index(flag) + 1]
        assert mounts[next(m for m in mounts if directory.startswith(m + "/"))] == "data"


# -- the spec section ----------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "replacement", "path", "expected"), [
    ("  image: gatewatch/exporter:0.1.0", "  image: gatewatch/exporter", "kubernetes.image", "expected str matching"),
    ("  namespace: gatewatch", "  namespace: Gate_Watch", "kubernetes.namespace", "expected str matching"),
    ("    memory_limit: 512Mi", "    memory_limit: lots", "kubernetes.resources.memory_limit",
     "expected str matching"),
    ("  replicas: 2", "  replicas: 0", "kubernetes.replicas", "expected int >= 1"),
    ("    release: kube-prometheus-stack", "    release: kube prometheus stack", "kubernetes.operator_labels.release",
     "expected a Kubernetes label value"),
    ("    dashboards: grafana", "    bad key!: grafana", "kubernetes.grafana_instance_labels",
     "expected label keys Kubernetes accepts"),
    ("  storage_size: 1Gi", "  storage_size: 1Gi\n  storage_clas: fast", "kubernetes",
     "unknown key storage_clas"),
])
def test_a_broken_kubernetes_section_is_refused_with_its_path(line: str, replacement: str, path: str,
                                                              expected: str) -> None:
    text = EXAMPLE_SPEC.read_text()
    assert line in text
    with pytest.raises(spec_model.SpecError) as raised:
        spec_model.parse(text.replace(line, replacement, 1), "ops.yaml")
    assert raised.value.path == path
    assert expected in raised.value.message
    assert raised.value.line is not None


# -- secrets and staleness -----------------------------------------------------------------------

PLANTED = "planted-s3cret-6f1c2a9e"


def _render_files(tmp_path: Path, spec_file: Path, env: dict[str, str]) -> dict[Path, str]:
    out = tmp_path / "build"
    run = subprocess.run([sys.executable, str(ROOT / "generate.py"), "--spec", str(spec_file), "--out", str(out)],
                         env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    return {f: f.read_text(encoding="utf-8") for f in out.rglob("*") if f.is_file()}


def test_no_secret_value_reaches_any_generated_file(tmp_path: Path) -> None:
    """Secrets reach gatewatch only through the environment (and files Alertmanager reads): plant
    one in every variable the spec names, render, and find it nowhere in build/."""
    spec = spec_model.load(EXAMPLE_SPEC)
    names = {spec.ingest.token_env, spec.collector.token_env} - {None}
    assert names
    env = {**os.environ, **{name: f"{PLANTED}-{name}" for name in names if name}}
    written = _render_files(tmp_path, EXAMPLE_SPEC, env)
    assert any("kubernetes" in f.parts for f in written)
    assert [str(f) for f, text in written.items() if PLANTED in text] == []


def test_the_secret_search_finds_a_value_that_is_rendered(tmp_path: Path) -> None:
    """The search above can fail: the same value put where the generator does copy it is found,
    in build/kubernetes/ too."""
    spec_file = tmp_path / "ops.yaml"
    spec_file.write_text(EXAMPLE_SPEC.read_text().replace("  name: Northwind", f"  name: Northwind {PLANTED}", 1))
    written = _render_files(tmp_path, spec_file, dict(os.environ))
    assert any(PLANTED in text for f, text in written.items() if "kubernetes" in f.parts)


def test_check_fails_when_a_kubernetes_file_is_stale_or_missing(tmp_path: Path) -> None:
    write(render_all(spec_model.load(EXAMPLE_SPEC)), tmp_path)
    args = ["--spec", str(EXAMPLE_SPEC), "--out", str(tmp_path), "--check"]
    assert generate_main(args) == 0
    statefulset = tmp_path / "kubernetes" / "exporter" / "statefulset.yaml"
    statefulset.write_text(statefulset.read_text().replace("replicas: 2", "replicas: 3"))
    assert generate_main(args) == 1
    write(render_all(spec_model.load(EXAMPLE_SPEC)), tmp_path)
    (tmp_path / "kubernetes" / "grafana-operator" / "gatewatch-cost.yaml").unlink()
    assert generate_main(args) == 1


def test_render_writes_only_under_kubernetes(spec: spec_model.Spec) -> None:
    assert all(path.startswith("kubernetes/") for path in render.render(spec))
