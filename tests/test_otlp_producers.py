"""Real GenAI instrumentation, really run, into a real exporter over OTLP/HTTP.

Each producer (tests/support/producers.py: the official openai-v2 instrumentation, OpenLLMetry
today and a year ago) instruments the ``openai`` SDK calling a fake upstream on loopback and
exports its spans with the SDK's own OTLP exporter, protobuf and, where the SDK has one, JSON.
The truth is what the fake upstream served, tallied here the plain way; every figure on
/metrics must equal it. A canary planted in every prompt must reach no label, log line, state
file or audit line.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from contract import catalog
from contract.spec import Spec, load
from tests.paths import EXAMPLE_SPEC
from tests.support import fake_openai
from tests.support.processes import Metrics, scrape_text, start_exporter, total
from tests.support.producers import PRODUCERS, Producer, run_app

pytestmark = pytest.mark.slow

CANARY = "CANARY-7f3a-jane.doe@example.com"
TEAM, APP = "support", "zendesk-assist"  # service.namespace "support", service.name "support-bot"
OUTCOME_OF_STATUS = {200: "success", 429: "rate_limited", 500: "provider_error", 400: "client_error"}
WORKFLOW_SPAN = "handle-ticket"  # app.py's wrapper span: not a model call
RUNS = [(p, encoding) for p in PRODUCERS for encoding in p.encodings]


def _canonical(spec: Spec, model: str) -> str:
    for listed in spec.models:
        if model in (listed.name, *listed.aliases):
            return listed.name
    return model


def _served_cost(spec: Spec, served: fake_openai.Served, cached: int) -> float:
    listed = spec.model(_canonical(spec, served.model))
    if listed is None:
        return 0.0
    price = listed.price
    cached_rate = price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    return ((served.prompt_tokens - cached) * price.input_per_mtok + cached * cached_rate
            + served.completion_tokens * price.output_per_mtok) / 1e6


def _requests(metrics: Metrics) -> Counter[tuple[str, str, str]]:
    out: Counter[tuple[str, str, str]] = Counter()
    for (name, labels), value in metrics.items():
        if name == catalog.REQUESTS.name and value:
            got = dict(labels)
            out[(got["model"], got["operation"], got["outcome"])] += int(value)
    return out


def _buckets(metrics: Metrics) -> dict[float, int]:
    out: Counter[float] = Counter()
    for (name, labels), value in metrics.items():
        if name == catalog.REQUEST_DURATION.name + "_bucket":
            out[float(dict(labels)["le"])] += int(value)
    return dict(out)


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load(EXAMPLE_SPEC)


@pytest.mark.parametrize(("producer", "encoding"), RUNS, ids=[f"{p.name}-{e}" for p, e in RUNS])
def test_a_real_producer_s_spans_give_exactly_what_the_upstream_served(
    tmp_path: Path, spec: Spec, producer: Producer, encoding: str
) -> None:
    upstream = fake_openai.start()
    state, audit = tmp_path / "state", tmp_path / "audit"
    exporter = start_exporter(tmp_path, "--state-dir", state, "--audit-dir", audit)
    spans_file = tmp_path / "spans.json"
    try:
        run_app(producer, upstream=upstream.url, endpoint=exporter.url, spans_out=spans_file,
                encoding=encoding, canary=CANARY)
        text = scrape_text(exporter.url)
        metrics = exporter.scrape()
    finally:
        exporter.stop()
        upstream.close()
    served = upstream.served
    assert len(served) == 8  # app.py's calls, each served once (no retries)

    # Requests by model, operation and outcome, all attributed from the resource.
    expected_requests = Counter(
        (_canonical(spec, s.model), "embeddings" if s.path.endswith("/embeddings") else "chat",
         OUTCOME_OF_STATUS[s.status])
        for s in served
    )
    assert _requests(metrics) == expected_requests
    requests_name = catalog.REQUESTS.name
    assert total(metrics, requests_name, team=TEAM, app=APP) == len(served)

    # Tokens by type and cost, from the usage the upstream served.
    ok = [s for s in served if s.status == 200]
    cached = {id(s): s.cached_tokens if producer.reports_cached else 0 for s in ok}
    tokens_name = catalog.TOKENS.name
    assert total(metrics, tokens_name, type="input") == sum(s.prompt_tokens for s in ok)
    assert total(metrics, tokens_name, type="output") == sum(s.completion_tokens for s in ok)
    assert total(metrics, tokens_name, type="cached_input") == sum(cached.values())
    assert total(metrics, tokens_name, type="reasoning") == (
        sum(s.reasoning_tokens for s in ok) if producer.reports_reasoning else 0)
    expected_cost = sum(_served_cost(spec, s, cached[id(s)]) for s in ok)
    assert total(metrics, catalog.COST.name) == pytest.approx(expected_cost, rel=1e-9, abs=1e-12)
    unlisted = Counter(s.model for s in ok if spec.model(_canonical(spec, s.model)) is None)
    assert {m: total(metrics, catalog.EXPORTER_UNPRICED.name, model=m) for m in unlisted} == unlisted

    # Duration buckets: each model-call span's own duration, tallied into the catalog's bounds.
    spans = json.loads(spans_file.read_text())
    durations = [s["duration"] for s in spans if s["name"] != WORKFLOW_SPAN]
    assert len(durations) == len(served)
    bounds = (*catalog.REQUEST_DURATION.buckets, float("inf"))
    assert _buckets(metrics) == {b: sum(d <= b for d in durations) for b in bounds}

    # Time to first token only for the successful stream, and only from a producer that says.
    streams = sum(1 for s in ok if s.streaming)
    assert total(metrics, catalog.TIME_TO_FIRST_TOKEN.name + "_count") == (streams if producer.reports_ttft else 0)

    # The wrapper span is seen and set aside; every model-call span is accepted.
    events = catalog.EXPORTER_EVENTS.name
    assert total(metrics, events, source="otlp", format="otel", result="accepted") == len(served)
    assert total(metrics, events, source="otlp", format="otel", result="ignored") == 1
    assert total(metrics, events, source="otlp", format="otel", result="rejected") == 0

    # The spans carried the canary in their message content; nothing of it may come out anywhere.
    assert any(s["carries_canary"] for s in spans)
    assert CANARY not in text
    assert "jane.doe" not in exporter.log()
    # o3 is not approved for support: its calls are audit lines, so the trail is not empty.
    assert any(path.is_file() and path.stat().st_size for path in audit.rglob("*"))
    for path in [*state.rglob("*"), *audit.rglob("*")]:
        if path.is_file():
            assert b"jane.doe" not in path.read_bytes(), path
