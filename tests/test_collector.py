"""The generated OpenTelemetry Collector config, for each backend the spec can name: a pipeline
wired end to end (every component it names is defined, nothing defined lies unused), the
receiver the exporter's push reaches, memory limited first, and no secret inline.

No otelcol binary ships in PyPI, Debian or npm, so the config is checked by its structure; the
last test also runs ``otelcol-contrib validate`` where a developer has the binary on PATH."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from collector import config
from contract import spec as spec_model
from contract.spec import Collector, GenAiTraces
from exporter.adapters.otel import READ, classify
from exporter.otlp import metrics_url
from tests.paths import EXAMPLE_SPEC

SPEC = spec_model.load(EXAMPLE_SPEC)


@dataclass(frozen=True)
class Case:
    name: str
    collector: Collector
    exporter: str
    headers: dict[str, str]
    queue_key: str


CASES = (
    Case(
        "prometheus remote write, no token",
        Collector(backend="prometheus_remote_write", endpoint="http://prometheus:9090/api/v1/write"),
        exporter="prometheusremotewrite",
        headers={},
        queue_key="remote_write_queue",
    ),
    Case(
        "mimir with a tenant and a token",
        Collector(backend="mimir", endpoint="https://mimir.example/api/v1/push", tenant="team-x",
                  token_env="MIMIR_TOKEN", memory_limit_mib=1024),
        exporter="prometheusremotewrite",
        headers={"Authorization": "Bearer ${env:MIMIR_TOKEN}", "X-Scope-OrgID": "team-x"},
        queue_key="remote_write_queue",
    ),
    Case(
        "any OTLP endpoint with a token",
        Collector(backend="otlp", endpoint="https://otlp.example:4318", token_env="OTLP_TOKEN",
                  memory_limit_mib=256),
        exporter="otlphttp",
        headers={"Authorization": "Bearer ${env:OTLP_TOKEN}"},
        queue_key="sending_queue",
    ),
)


def rendered(collector: Collector) -> tuple[str, dict[str, Any]]:
    files = config.render(msgspec.structs.replace(SPEC, collector=collector))
    assert list(files) == ["otel-collector/config.yaml"]
    text = files["otel-collector/config.yaml"]
    return text, yaml.safe_load(text)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_pipeline_runs_from_the_otlp_receiver_through_the_memory_limiter_to_the_backend(case: Case) -> None:
    _, doc = rendered(case.collector)
    pipelines = doc["service"]["pipelines"]
    assert list(pipelines) == ["metrics"]
    metrics = pipelines["metrics"]
    assert metrics["receivers"] == ["otlp"]
    # The memory limiter must come first: a processor before it would buffer what it refuses.
    assert metrics["processors"] == ["memory_limiter", "batch"]
    assert metrics["exporters"] == [case.exporter]
    # Every component the pipeline names is defined, and nothing is defined but left unused.
    for kind in ("receivers", "processors", "exporters"):
        assert set(doc[kind]) == set(metrics[kind]), kind
    assert doc["service"]["extensions"] == ["health_check"] == list(doc["extensions"])
    assert doc["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_backend_exporter_sends_to_the_spec_endpoint_with_retries_a_queue_and_its_headers(case: Case) -> None:
    _, doc = rendered(case.collector)
    exporter = doc["exporters"][case.exporter]
    assert exporter["endpoint"] == case.collector.endpoint
    assert exporter.get("headers", {}) == case.headers
    assert exporter["retry_on_failure"]["enabled"] is True
    assert exporter[case.queue_key]["enabled"] is True
    # prometheusremotewrite refuses sending_queue (its queue is remote_write_queue).
    other_queue = {"remote_write_queue": "sending_queue", "sending_queue": "remote_write_queue"}[case.queue_key]
    assert other_queue not in exporter


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_memory_is_limited_to_the_spec_value_with_room_for_a_spike(case: Case) -> None:
    _, doc = rendered(case.collector)
    limiter = doc["processors"]["memory_limiter"]
    assert limiter["limit_mib"] == case.collector.memory_limit_mib
    assert 0 < limiter["spike_limit_mib"] < limiter["limit_mib"]
    assert limiter["check_interval"] == "1s"


def test_the_receiver_listens_where_the_exporter_pushes_over_http_only() -> None:
    _, doc = rendered(Collector())
    protocols = doc["receivers"]["otlp"]["protocols"]
    # The exporter speaks OTLP/HTTP protobuf only (exporter/otlp.py); an open gRPC port would be unused.
    assert list(protocols) == ["http"]
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    # What the exporter posts to for --otlp-endpoint http://collector:4318 is the receiver's
    # default metrics path.
    assert metrics_url("http://collector:4318") == "http://collector:4318/v1/metrics"
    assert "traces_url_path" not in protocols["http"] and "metrics_url_path" not in protocols["http"]


def test_no_token_means_no_authorization_header_at_all() -> None:
    text, doc = rendered(Collector(backend="otlp", endpoint="http://otlp.example:4318"))
    assert "headers" not in doc["exporters"]["otlphttp"]
    assert "Authorization" not in text and "${env:" not in text


def test_the_token_is_an_environment_reference_never_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-token-value-0123456789"
    monkeypatch.setenv("MIMIR_TOKEN", secret)
    text, _ = rendered(SPEC.collector)
    assert secret not in text
    assert "Bearer ${env:MIMIR_TOKEN}" in text


def test_the_example_spec_renders_its_mimir_backend() -> None:
    _, doc = rendered(SPEC.collector)
    assert doc["exporters"]["prometheusremotewrite"] == {

            "endpoint": "https://mimir.northwind.example/api/v1/push",
            "retry_on_failure": {"enabled": True, "initial_interval": "5s", "max_interval": "30s",
                                 "max_elapsed_time": "120s"},
            "remote_write_queue": {"enabled": True, "num_consumers": 4, "queue_size": 100},
            "resource_to_telemetry_conversion": {"enabled": False},
            "headers": {"Authorization": "Bearer ${env:MIMIR_TOKEN}", "X-Scope-OrgID": "ai-platform"},
    }
    assert doc["processors"]["memory_limiter"]["limit_mib"] == 512


def test_the_generated_file_says_push_and_scrape_are_alternatives() -> None:
    text, _ = rendered(SPEC.collector)
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert "never both" in header
    assert "/metrics" in header


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_real_collector_accepts_the_config(case: Case, tmp_path: Path) -> None:
    binary = shutil.which("otelcol-contrib") or shutil.which("otelcol")
    if binary is None:
        pytest.skip("no otelcol-contrib binary on PATH: none is packaged in PyPI, Debian or npm, so the "
                    "structural tests above stand in for it")
    text, _ = rendered(case.collector)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    env = {"PATH": "/usr/bin:/bin", "MIMIR_TOKEN": "x", "OTLP_TOKEN": "x"}
    result = subprocess.run([binary, "validate", f"--config={path}"], capture_output=True, text=True,
                            timeout=60, env=env, check=False)
    assert result.returncode == 0, result.stderr


# -- GenAI traces: model-call spans to the exporter, every span to the tracing backend ----------

GENAI = GenAiTraces(exporter_endpoint="http://gatewatch:9464", exporter_token_env="GATEWATCH_INGEST_TOKEN",
                    tracing_endpoint="http://tempo:4318")


def test_genai_spans_go_through_the_model_call_filter_and_the_content_stripper_to_the_exporter() -> None:
    _, doc = rendered(Collector(genai_traces=GENAI))
    pipelines = doc["service"]["pipelines"]
    assert pipelines["traces/gatewatch"] == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "filter/genai_model_calls", "transform/genai_no_content", "batch/gatewatch"],
        "exporters": ["otlphttp/gatewatch"],
    }
    # The tracing backend keeps whole traces: every span, unfiltered.
    assert pipelines["traces"] == {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"],
                                   "exporters": ["otlphttp/tracing"]}
    used = {kind: {c for p in pipelines.values() for c in p[kind]} for kind in ("receivers", "processors", "exporters")}
    for kind, names in used.items():
        assert set(doc[kind]) == names, kind
    # Requests to the exporter stay inside its ingest limits.
    assert doc["processors"]["batch/gatewatch"]["send_batch_max_size"] <= SPEC.ingest.max_records_per_body
    gatewatch = doc["exporters"]["otlphttp/gatewatch"]
    # otlphttp appends /v1/traces to the base URL: the exporter's receiver path.
    assert gatewatch["endpoint"] == "http://gatewatch:9464"
    assert gatewatch["headers"] == {"Authorization": "Bearer ${env:GATEWATCH_INGEST_TOKEN}"}
    assert "headers" not in doc["exporters"]["otlphttp/tracing"]


def test_without_a_tracing_backend_only_the_exporter_gets_spans() -> None:
    _, doc = rendered(Collector(genai_traces=GenAiTraces()))
    assert set(doc["service"]["pipelines"]) == {"metrics", "traces/gatewatch"}
    assert "otlphttp/tracing" not in doc["exporters"]


def _ottl_regex(literal: str) -> re.Pattern[str]:
    """The regular expression an OTTL string literal holds: OTTL turns a doubled backslash into one."""
    return re.compile(literal.replace("\\\\", "\\"))


_CONDITION = re.compile(
    r'^(?:IsMatch\(attributes\["(?P<k1>[^"]+)"\], "(?P<r1>[^"]+)"\)'
    r'|attributes\["(?P<k2>[^"]+)"\] (?P<op>!=|==) nil'
    r' and not IsMatch\(attributes\["(?P<k3>[^"]+)"\], "(?P<r3>[^"]+)"\))$'
)


def _dropped(conditions: list[str], attributes: dict[str, str]) -> bool:
    """The filter processor's verdict: dropped when any condition holds (IsMatch on nil is false)."""
    for condition in conditions:
        found = _CONDITION.match(condition)
        assert found is not None, condition
        if found["k1"]:
            value = attributes.get(found["k1"])
            if value is not None and _ottl_regex(found["r1"]).search(value):
                return True
            continue
        present = attributes.get(found["k2"]) is not None
        if present != (found["op"] == "!="):
            continue
        value = attributes.get(found["k3"])
        if value is None or not _ottl_regex(found["r3"]).search(value):
            return True
    return False


_SPAN_KEYS = ["gen_ai.operation.name", "llm.request.type", "traceloop.span.kind"]
_SPAN_VALUES = ["chat", "text_completion", "embeddings", "generate_content", "invoke_agent", "execute_tool",
                "completion", "embedding", "rerank", "workflow", "tool", "task", "agent", "chat2", "xchat", ""]


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(_SPAN_KEYS), st.sampled_from(_SPAN_VALUES)))
def test_the_collector_keeps_exactly_the_spans_the_exporter_counts(attributes: dict[str, str]) -> None:
    conditions = config.model_call_conditions()
    kept = not _dropped(conditions, {k: v for k, v in attributes.items() if v != ""})
    assert kept == (classify({k: v for k, v in attributes.items() if v != ""}) is not None)


@pytest.mark.parametrize("key", [
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.prompt",
    "gen_ai.prompt.0.content", "gen_ai.completion.0.content", "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result", "gen_ai.tool.definitions", "traceloop.entity.input", "gen_ai.retrieval.query.text",
])
def test_message_content_is_stripped_before_it_leaves_for_the_exporter(key: str) -> None:
    assert _ottl_regex(config.CONTENT_ATTRIBUTES).search(key)


def test_nothing_the_exporter_reads_is_stripped() -> None:
    pattern = _ottl_regex(config.CONTENT_ATTRIBUTES)
    assert not [key for key in READ if pattern.search(key)]
