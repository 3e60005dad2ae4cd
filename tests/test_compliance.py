"""Compliance evidence against a real Prometheus holding a month of known, hand-built counters.

October 2026 at a 6 h scrape step, counters growing at fixed daily rates from a day before the
month, so every exact increase below is computed by hand:

- search / gpt-4o: 100 requests a day (3,100), 3 USD a day (93), 2 guardrail bypasses a day (62);
- research / gpt-4o (not approved for research): 1 request a day (31) and 1 unapproved_model
  violation a day until the 16th, none after (15 in October);
- __unassigned__ / an unlisted model (``__other__``): 2 requests a day (62), 1 USD a day (31);
- review verdicts: lakera-prompt-injection 3 false / 27 true positives (0.1, tolerated 0.1),
  presidio-pii 10 / 10 (0.5, tolerated 0.2).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import orjson
import pytest

from contract import spec as spec_model
from contract.spec import Compliance, Control
from exporter import compliance as headline
from exporter.recorder import Recorder
from reports import cli
from reports.compliance import collect, headline_of, to_html, to_json, to_markdown
from reports.evidence import FAIL, NO_EVIDENCE, PASS
from reports.periods import month
from reports.prometheus import PrometheusClient
from tests.paths import EXAMPLE_SPEC
from tests.support.openmetrics import Series, grid, linear, serve
from tests.support.prometheus import Prometheus

pytestmark = [pytest.mark.binaries]

BASE = spec_model.load(EXAMPLE_SPEC)
OCT = 1_790_812_800.0  # 2026-10-01T00:00:00Z
DAY = 86_400.0
TIMES = grid(OCT - DAY, OCT + 32 * DAY, 21_600.0)
OCTOBER = month("2026-10")
GENERATED = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def _request(team: str, app: str, model: str, provider: str = "openai") -> dict[str, str]:
    return dict(team=team, app=app, model=model, provider=provider, operation="chat", outcome="success", cache="miss")


def _daily(per_day: float, until: float | None = None) -> tuple[tuple[float, float], ...]:
    rate = per_day / DAY
    return tuple((t, rate * (min(t, until if until is not None else t) - (OCT - DAY))) for t in TIMES)


def _gauge(value: float) -> tuple[tuple[float, float], ...]:
    return tuple((t, value) for t in TIMES)


SERIES = (
    Series("genai_requests_total", _request("search", "search-api", "gpt-4o"), _daily(100)),
    Series("genai_requests_total", _request("research", "notebook-agent", "gpt-4o"), _daily(1)),
    Series("genai_requests_total", _request("__unassigned__", "__unassigned__", "__other__", "azure"), _daily(2)),
    Series("genai_cost_usd_total", {"team": "search", "app": "search-api", "model": "gpt-4o", "provider": "openai"},
           _daily(3)),
    Series("genai_cost_usd_total", {"team": "__unassigned__", "app": "__unassigned__", "model": "__other__",
                                    "provider": "azure"}, _daily(1)),
    Series("genai_policy_violations_total", {"team": "search", "app": "search-api", "policy": "guardrail_bypass"},
           _daily(2)),
    Series("genai_policy_violations_total", {"team": "research", "app": "notebook-agent", "policy": "unapproved_model"},
           _daily(1, until=OCT + 15 * DAY)),
    Series("genai_guardrail_review_verdicts", {"guardrail": "lakera-prompt-injection", "verdict": "false_positive"},
           _gauge(3)),
    Series("genai_guardrail_review_verdicts", {"guardrail": "lakera-prompt-injection", "verdict": "true_positive"},
           _gauge(27)),
    Series("genai_guardrail_review_verdicts", {"guardrail": "presidio-pii", "verdict": "false_positive"}, _gauge(10)),
    Series("genai_guardrail_review_verdicts", {"guardrail": "presidio-pii", "verdict": "true_positive"}, _gauge(10)),
)
assert linear  # the helper the series above spell out by hand


def _control(cid: str, evidence: str, threshold: float | None = None) -> Control:
    return Control(id=cid, framework="test", title=f"{evidence} control", evidence=evidence,  # type: ignore[arg-type]
                   threshold=threshold)


CONTROLS = (
    _control("c-attribution", "attribution", 0.02),
    _control("c-coverage", "guardrail_coverage", 0.95),
    _control("c-unapproved", "unapproved_models", 0),
    _control("c-inventory", "model_inventory", 0.05),
    _control("c-owners", "budget_owners"),
    _control("c-records", "record_keeping"),
    _control("c-sensitive", "sensitive_followup", 0.9),
    _control("c-resolved", "violations_resolved", 0.95),
    _control("c-fp", "false_positive_ratio"),
    _control("c-runbooks", "runbooks"),
)
SPEC = msgspec.structs.replace(BASE, compliance=Compliance(controls=CONTROLS))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with serve(SERIES, tmp_path_factory.mktemp("compliance")) as prom:
        yield prom


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    """Two alerts, one runbook."""
    rules = tmp_path / "build" / "prometheus" / "rules"
    rules.mkdir(parents=True)
    (rules / "alerts.yml").write_text(
        "groups:\n- name: g\n  rules:\n  - alert: HasRunbook\n    expr: vector(1)\n"
        "  - alert: LacksRunbook\n    expr: vector(1)\n  - record: a:b:c\n    expr: vector(1)\n")
    (tmp_path / "build" / "runbooks").mkdir()
    (tmp_path / "build" / "runbooks" / "HasRunbook.md").write_text("# HasRunbook\n")
    return tmp_path / "build"


def _results(prometheus: Prometheus, **sources: Path) -> dict[str, object]:
    report = collect(SPEC, OCTOBER, PrometheusClient(prometheus.url), generated_at=GENERATED, **sources)
    return {r.id: r.evidence for r in report.results}


# (control, status, value) computed by hand from the module docstring
EXPECTED = [
    ("c-attribution", FAIL, 31 / (93 + 31)),  # 0.25 of spend carries no team, 0.02 tolerated
    ("c-coverage", PASS, 1 - 62 / 3100),  # search and support and legal require guardrails; only search has traffic
    ("c-unapproved", FAIL, 15.0),
    ("c-inventory", PASS, 62 / (3100 + 31 + 62)),
    ("c-owners", PASS, 0.0),
    ("c-resolved", FAIL, 0.5),  # research's violations stopped on the 16th, search's bypasses go on
    ("c-fp", FAIL, 0.5),  # presidio-pii 10 of 20 against 0.2 tolerated; lakera exactly at its 0.1
    ("c-runbooks", FAIL, 1.0),
]


@pytest.mark.parametrize(("control", "status", "value"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_controls_measured_from_known_data(prometheus: Prometheus, build_dir: Path, control: str, status: str,
                                           value: float) -> None:
    evidence = _results(prometheus, build_dir=build_dir)[control]
    assert evidence.status == status, evidence.detail  # type: ignore[attr-defined]
    assert evidence.value == pytest.approx(value, rel=1e-6, abs=1e-9)  # type: ignore[attr-defined]


def test_a_source_not_given_is_no_evidence_with_the_reason(prometheus: Prometheus) -> None:
    results = _results(prometheus)
    for control, why in (("c-records", "no --audit-dir"), ("c-sensitive", "no --audit-dir"),
                         ("c-runbooks", "no --build-dir")):
        assert results[control].status == NO_EVIDENCE  # type: ignore[attr-defined]
        assert results[control].value is None  # type: ignore[attr-defined]
        assert why in results[control].detail  # type: ignore[attr-defined]


def test_a_period_without_traffic_is_no_evidence_not_a_pass(prometheus: Prometheus) -> None:
    report = collect(SPEC, month("2025-01"), PrometheusClient(prometheus.url), generated_at=GENERATED)
    results = {r.id: r.evidence for r in report.results}
    for control in ("c-attribution", "c-coverage", "c-unapproved", "c-inventory", "c-resolved", "c-fp"):
        assert results[control].status == NO_EVIDENCE, control
    assert "no gatewatch requests" in results["c-unapproved"].detail
    assert results["c-owners"].status == PASS  # the spec is evidence whatever the period


def test_the_coverage_control_shows_the_query_that_produced_it(prometheus: Prometheus) -> None:
    evidence = _results(prometheus)["c-coverage"]
    assert evidence.query == (  # type: ignore[attr-defined]
        '1 - exact_increase(sum(genai_policy_violations_total{policy="guardrail_bypass",team=~"legal|search|support"}))'
        ' / exact_increase(sum(genai_requests_total{team=~"legal|search|support",'
        'outcome!~"guardrail_blocked|quota_exceeded"}))')
    assert evidence.threshold == 0.95  # type: ignore[attr-defined]


# -- the audit log and the review store ---------------------------------------------------------

def _audit_line(seq: int, at: str, prev: str, guardrails: list[dict[str, str]], entities: dict[str, int]) -> bytes:
    record = {"seq": seq, "time": at, "kind": "request", "request_id": f"chatcmpl-{seq}", "format": "litellm",
              "team": "support", "app": "zendesk-assist", "model": "gpt-4o", "provider": "openai",
              "outcome": "guardrail_blocked", "guardrails": guardrails, "violations": [], "entities": entities,
              "prev": prev}
    return orjson.dumps(record)


def write_audit(directory: Path, first_seq: int = 1) -> list[bytes]:
    """Three request lines over two October days: two carry sensitive entities."""
    directory.mkdir(parents=True, exist_ok=True)
    flagged = [{"name": "presidio-pii", "stage": "input", "result": "flagged"}]
    blocked = [{"name": "lakera-prompt-injection", "stage": "input", "result": "blocked"}]
    plan = [("2026-10-02", "2026-10-02T08:00:00.000Z", flagged, {"email": 2}),
            ("2026-10-02", "2026-10-02T09:00:00.000Z", blocked, {"ip_address": 1}),
            ("2026-10-03", "2026-10-03T10:00:00.000Z", blocked, {})]
    prev = "0" * 64 if first_seq == 1 else "1" * 64
    written: list[bytes] = []
    for offset, (day, at, guardrails, entities) in enumerate(plan):
        line = _audit_line(first_seq + offset, at, prev, guardrails, entities)
        with (directory / f"audit-{day}.jsonl").open("ab") as handle:
            handle.write(line + b"\n")
        written.append(line)
        prev = hashlib.sha256(line).hexdigest()
    return written


def _record_keeping(prometheus: Prometheus, audit: Path, threshold: float | None = None) -> object:
    spec = msgspec.structs.replace(BASE, compliance=Compliance(controls=(_control("r", "record_keeping", threshold),)))
    report = collect(spec, OCTOBER, PrometheusClient(prometheus.url), audit_dir=audit, generated_at=GENERATED)
    return report.results[0].evidence


def test_record_keeping_passes_for_an_intact_log_kept_since_its_first_line(prometheus: Prometheus,
                                                                           tmp_path: Path) -> None:
    write_audit(tmp_path / "audit")
    evidence = _record_keeping(prometheus, tmp_path / "audit")
    assert evidence.status == PASS, evidence.detail  # type: ignore[attr-defined]
    assert evidence.value == 30  # 2026-10-02 to the period's end, 2026-11-01  # type: ignore[attr-defined]
    assert evidence.threshold == BASE.audit.retention_min_days  # type: ignore[attr-defined]


def test_record_keeping_fails_on_an_edited_line(prometheus: Prometheus, tmp_path: Path) -> None:
    write_audit(tmp_path / "audit")
    day = tmp_path / "audit" / "audit-2026-10-02.jsonl"
    day.write_bytes(day.read_bytes().replace(b'"email":2', b'"email":3'))
    evidence = _record_keeping(prometheus, tmp_path / "audit")
    assert evidence.status == FAIL  # type: ignore[attr-defined]
    assert "edited" in evidence.detail  # type: ignore[attr-defined]


def test_record_keeping_fails_when_purged_inside_the_retention(prometheus: Prometheus, tmp_path: Path) -> None:
    """The oldest file does not start the log (seq 41), and it is 30 days old where 90 are required."""
    write_audit(tmp_path / "audit", first_seq=41)
    evidence = _record_keeping(prometheus, tmp_path / "audit", threshold=90)
    assert evidence.status == FAIL, evidence.detail  # type: ignore[attr-defined]
    assert evidence.value == 30  # type: ignore[attr-defined]


def test_record_keeping_fails_when_the_log_is_missing(prometheus: Prometheus, tmp_path: Path) -> None:
    evidence = _record_keeping(prometheus, tmp_path / "nowhere")
    assert evidence.status == FAIL  # type: ignore[attr-defined]
    assert "no audit log" in evidence.detail  # type: ignore[attr-defined]


def test_sensitive_detections_followed_up_share(prometheus: Prometheus, tmp_path: Path) -> None:
    from exporter import verdicts
    from reports.review.findings import review_id

    written = write_audit(tmp_path / "audit")
    state = tmp_path / "state"
    spec = msgspec.structs.replace(BASE, compliance=Compliance(controls=(_control("s", "sensitive_followup", 0.9),)))

    def evidence() -> object:
        return collect(spec, OCTOBER, PrometheusClient(prometheus.url), audit_dir=tmp_path / "audit",
                       state_dir=state, generated_at=GENERATED).results[0].evidence

    assert evidence().status == NO_EVIDENCE  # type: ignore[attr-defined]  # no verdict store yet
    first = review_id(hashlib.sha256(written[0]).hexdigest(), "presidio-pii", "input")
    verdicts.save(state, verdicts.Store(verdicts={first: verdicts.Verdict(
        guardrail="presidio-pii", stage="input", week="2026-W40", time="2026-10-02T08:00:00Z",
        verdict="true_positive")}))
    result = evidence()
    assert result.status == FAIL  # type: ignore[attr-defined]
    assert result.value == 0.5  # one of the two findings with entities has a verdict  # type: ignore[attr-defined]


# -- output -----------------------------------------------------------------------------------

def test_json_is_stable_sorted_and_holds_the_times_in_one_place(prometheus: Prometheus, build_dir: Path) -> None:
    first = collect(SPEC, OCTOBER, PrometheusClient(prometheus.url), build_dir=build_dir, generated_at=GENERATED)
    second = collect(SPEC, OCTOBER, PrometheusClient(prometheus.url), build_dir=build_dir, generated_at=GENERATED)
    assert to_json(first) == to_json(second)
    document = json.loads(to_json(first))
    assert list(document) == sorted(document)
    assert [c["id"] for c in document["controls"]] == sorted(c.id for c in CONTROLS)
    assert document["summary"] == {"pass": 3, "fail": 5, "no_evidence": 2}
    later = collect(SPEC, OCTOBER, PrometheusClient(prometheus.url), build_dir=build_dir,
                    generated_at=datetime(2026, 12, 1, tzinfo=UTC))
    changed = [(a, b) for a, b in zip(to_json(first).splitlines(), to_json(later).splitlines(), strict=True)
               if a != b]
    assert changed == [('    "generated_at": "2026-11-02T06:00:00Z",', '    "generated_at": "2026-12-01T00:00:00Z",')]


def test_markdown_and_html_show_status_value_threshold_and_query(prometheus: Prometheus) -> None:
    report = collect(SPEC, OCTOBER, PrometheusClient(prometheus.url), generated_at=GENERATED)
    markdown, page = to_markdown(report), to_html(report)
    row = "| test | c-attribution | — | attribution control | attribution | **fail** | 25.00 % | <= 2.00 % |"
    assert row in markdown
    assert "3 pass, 4 fail, 3 no evidence" in markdown
    assert "<script" not in page and "http" not in page.replace(prometheus.url, "")
    assert "exact_increase(sum(genai_cost_usd_total{team=~&quot;__unassigned__|__other__&quot;}))" in page


def test_headline_reaches_the_exporter_gauges_bounded_by_the_spec(prometheus: Prometheus, tmp_path: Path) -> None:
    report = collect(SPEC, OCTOBER, PrometheusClient(prometheus.url), generated_at=GENERATED)
    result = headline_of(report)
    planted = msgspec.structs.replace(result, controls=(*result.controls,
                                                       headline.ControlStatus("not-in-spec", "x", "fail")))
    headline.write(tmp_path, planted)
    recorder = Recorder()
    feed = headline.ComplianceFeed(tmp_path)
    assert feed.publish(recorder, SPEC) is True
    assert feed.publish(recorder, SPEC) is False  # unchanged: not read again
    text = recorder.render().decode()
    assert 'genai_compliance_controls{status="pass"} 3' in text
    assert 'genai_compliance_controls{status="fail"} 4' in text
    assert 'genai_compliance_controls{status="no_evidence"} 3' in text
    assert 'genai_compliance_control_status{control="c-attribution",framework="test"} 0' in text
    assert 'genai_compliance_control_status{control="c-owners",framework="test"} 1' in text
    assert 'genai_compliance_control_status{control="c-records",framework="test"} -1' in text
    assert "not-in-spec" not in text
    assert f"genai_compliance_report_timestamp_seconds {GENERATED.timestamp():.0f}" in text.replace(".0\n", "\n")
    (tmp_path / headline.RESULT_FILE).unlink()
    assert feed.publish(recorder, SPEC) is True
    assert "genai_compliance" not in recorder.render().decode()


def test_cli_exit_status_files_and_headline(prometheus: Prometheus, tmp_path: Path) -> None:
    spec_file = tmp_path / "ops.yaml"
    spec_file.write_text(EXAMPLE_SPEC.read_text())
    out = tmp_path / "out" / "evidence"
    code = cli.main(["compliance", "--prometheus", prometheus.url, "--spec", str(spec_file), "--month", "2026-10",
                     "--build-dir", str(tmp_path / "no-build"), "--state-dir", str(tmp_path / "state"),
                     "--format", "md,html,json", "--out", str(out)])
    assert code == 1  # the example's unapproved-model control fails on research's 15 requests
    for fmt in ("md", "html", "json"):
        assert (tmp_path / "out" / f"evidence.{fmt}").is_file()
    stored = headline.decode((tmp_path / "state" / headline.RESULT_FILE).read_bytes())
    assert {c.id for c in stored.controls} == {c.id for c in BASE.compliance.controls}
    assert stored.period_end == OCT + 31 * DAY


@pytest.mark.parametrize("out", [[], ["--out", "-"]], ids=["no --out", "--out -"])
def test_one_format_goes_to_stdout(prometheus: Prometheus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str], out: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code = cli.main(["compliance", "--prometheus", prometheus.url, "--spec", str(EXAMPLE_SPEC), "--month", "2026-10",
                     "--build-dir", str(tmp_path / "no-build"), "--format", "json", *out])
    assert code == 1
    assert json.loads(capsys.readouterr().out)["report"]["period"]["start"].startswith("2026-10-01")
    assert list(tmp_path.iterdir()) == []  # no file named '-.json'


def test_cli_error_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["compliance", "--prometheus", "http://127.0.0.1:9", "--spec", str(EXAMPLE_SPEC),
                     "--month", "2026-10", "--timeout", "2"])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: cannot reach Prometheus")
