"""Canaries: records carrying planted prompt and response text, emails, IP addresses, end-user ids
and a user agent go through the real pipeline (metrics and audit log), into a real Prometheus,
and through the access matrix and the compliance report in every format; none of the planted
values may appear in any output file, the state directory or what the commands print."""

from __future__ import annotations

import copy
from pathlib import Path

import msgspec
import pytest

from contract import catalog
from contract import spec as spec_model
from exporter.audit import AuditWriter
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from reports import cli
from tests.paths import EXAMPLE_SPEC, LITELLM_FIXTURE, ROOT
from tests.support.openmetrics import Series, grid, serve
from tests.support.processes import read_jsonl

pytestmark = [pytest.mark.binaries]

OCT = 1_790_812_800.0  # 2026-10-01T00:00:00Z
DAY = 86_400.0
INGESTED = OCT + 2 * DAY + 3600  # 2026-10-03T01:00:00Z
CANARIES = ("CANARY-PROMPT-4471", "CANARY-ANSWER-4471", "canary.person@leak.example", "198.51.100.77",
            "enduser-canary-8812", "canary-agent/9.9")
COUNTERS = (catalog.REQUESTS, catalog.COST, catalog.POLICY_VIOLATIONS, catalog.GUARDRAIL_EVALUATIONS,
            catalog.SENSITIVE_ENTITIES)


def planted() -> list[bytes]:
    records = []
    for i, template in enumerate(read_jsonl(LITELLM_FIXTURE)):
        record = copy.deepcopy(template)
        shift = INGESTED - float(record["startTime"]) + i
        record["id"] = f"chatcmpl-canary-{i}"
        for key in ("startTime", "endTime", "completionStartTime"):
            if isinstance(record.get(key), int | float):
                record[key] += shift
        record["messages"] = [{"role": "user", "content": f"{CANARIES[0]} mail {CANARIES[2]} from {CANARIES[3]}"}]
        record["response"] = {"choices": [{"message": {"content": CANARIES[1]}}]}
        record["end_user"] = CANARIES[4]
        record["requester_ip_address"] = CANARIES[3]
        record["user_agent"] = CANARIES[5]
        metadata = record.setdefault("metadata", {})
        metadata.update(requester_ip_address=CANARIES[3], user_api_key_end_user_id=CANARIES[4],
                        user_api_key_user_email=CANARIES[2])
        records.append(msgspec.json.encode(record))
    return records


def history(audit_dir: Path) -> list[Series]:
    """The records through the real pipeline (writing the audit log), scraped into counter series."""
    spec = spec_model.load(EXAMPLE_SPEC)
    clock = lambda: INGESTED  # noqa: E731
    recorder = Recorder(max_series_per_metric=spec.ingest.cardinality.max_series_per_metric, clock=clock)
    pipeline = Pipeline(spec, recorder=recorder, clock=clock, audit=AuditWriter(audit_dir, clock=clock))
    result = pipeline.ingest(planted(), "litellm", "http")
    assert result.accepted == 10, result.errors
    pipeline.close_audit()
    after = grid(INGESTED + 3600, OCT + 12 * DAY, 21_600.0)
    series = []
    for metric in COUNTERS:
        for key, value in recorder.series(metric):
            samples = ((OCT - DAY, 0.0), *((t, float(value)) for t in after))  # type: ignore[arg-type]
            series.append(Series(metric.name, dict(zip(metric.labels, key, strict=True)), samples))
    return series


def test_no_planted_value_reaches_any_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit, state, out = tmp_path / "audit", tmp_path / "state", tmp_path / "out"
    series = history(audit)
    assert any(s.name == catalog.SENSITIVE_ENTITIES.name for s in series), "the fixture must carry detections"
    with serve(series, tmp_path / "prometheus") as prom:
        period = ["--start", "2026-10-01", "--end", "2026-10-12"]
        common = ["--prometheus", prom.url, "--spec", str(EXAMPLE_SPEC), *period]
        assert cli.main(["access", *common, "--out", str(out / "access")]) == 0
        assert cli.main(["access", *common, "--previous", str(out / "access.csv")]) == 0
        code = cli.main(["compliance", *common, "--audit-dir", str(audit), "--state-dir", str(state),
                         "--build-dir", str(ROOT / "build"), "--format", "md,html,json",
                         "--out", str(out / "evidence")])
        assert code in (0, 1)
    printed = capsys.readouterr()
    files = [p for p in (*out.iterdir(), *state.iterdir()) if p.is_file()]
    assert {p.name for p in files} >= {"access.md", "access.csv", "evidence.md", "evidence.html", "evidence.json",
                                       "compliance.json"}
    texts = {str(p): p.read_text(errors="replace") for p in files}
    texts |= {"stdout": printed.out, "stderr": printed.err}
    texts |= {str(p): p.read_text(errors="replace") for p in audit.iterdir()}
    assert "search" in texts[str(out / "access.csv")]  # the reports did see the traffic
    assert any('"kind":"request"' in texts[str(p)] for p in audit.iterdir())  # and the audit log wrote them
    for where, text in texts.items():
        for canary in CANARIES:
            assert canary not in text, f"{canary!r} leaked into {where}"
