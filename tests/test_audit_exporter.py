"""The audit trail end to end: the exporter with --audit-dir over the sample records, nothing
planted in a record reaching the audit files, the chain metrics, and ``reports audit`` — its
Prometheus comparison against a real Prometheus that scraped the live exporter."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from reports.cli import main as reports_main
from tests.paths import ROOT
from tests.support.processes import Exporter, clean_env, post, post_json, total
from tests.support.prometheus import Prometheus, scrape_config
from tests.test_server import PLANTED, _events_canaries, _kong_canaries, _litellm_canaries

NOT_RUN_LAKERA = [{"name": "lakera-prompt-injection", "stage": "input", "result": "not_run"}]
NOT_RUN_PRESIDIO = [{"name": "presidio-pii", "stage": "input", "result": "not_run"}]
BYPASS = ["guardrail_bypass"]

# The sample records that are security- or compliance-relevant, worked out by hand from the
# fixture README and ops.yaml (search requires lakera-prompt-injection, support presidio-pii;
# research is not approved for gpt-4o; analytics requires nothing and its models are approved):
# (request_id, format, team, app, model, provider, outcome, guardrails, violations, entities)
EXPECTED: list[tuple[Any, ...]] = [
    # 1 streaming success, no guardrail evaluation: search's required one did not run
    ("chatcmpl-000001", "litellm", "search", "search-api", "gpt-4o", "openai", "success", NOT_RUN_LAKERA, BYPASS, {}),
    # 2 rate limited: it reached the provider, so the missing guardrail is still a bypass
    ("chatcmpl-000002", "litellm", "search", "search-api", "gpt-4o", "openai", "rate_limited", NOT_RUN_LAKERA,
     BYPASS, {}),
    # 3 presidio masked an email and a phone number
    ("chatcmpl-000003", "litellm", "support", "zendesk-assist", "claude-sonnet-4", "anthropic", "success",
     [{"name": "presidio-pii", "stage": "input", "result": "masked"}], [], {"email": 1, "phone_number": 1}),
    # 4 blocked by the prompt-injection guardrail: never sent, so no bypass for presidio
    ("chatcmpl-000004", "litellm", "support", "zendesk-assist", "claude-sonnet-4", "anthropic", "guardrail_blocked",
     [{"name": "lakera-prompt-injection", "stage": "input", "result": "blocked"}], [], {}),
    # 5 (analytics cache hit), 6 (no team), 7 (analytics timeout): nothing to record
    # 8 the guardrail did not answer: a fail-open is a bypass
    ("chatcmpl-000008", "litellm", "search", "search-api", "o3", "openai", "success",
     [{"name": "lakera-prompt-injection", "stage": "input", "result": "failed_open"}], BYPASS, {}),
    # 9 old payload shape, support without presidio information
    ("chatcmpl-000009", "litellm", "support", "zendesk-assist", "gpt-4o", "azure", "success", NOT_RUN_PRESIDIO,
     BYPASS, {}),
    # 10 provider 503 for search, no guardrail
    ("chatcmpl-000010", "litellm", "search", "search-api", "gpt-4o", "openai", "provider_error", NOT_RUN_LAKERA,
     BYPASS, {}),
    # Kong: 1-2 search without lakera, 3-4 support without presidio
    ("kreq-000001", "kong", "search", "search-api", "gpt-4o", "openai", "success", NOT_RUN_LAKERA, BYPASS, {}),
    ("kreq-000002", "kong", "search", "search-api", "gpt-4o", "openai", "success", NOT_RUN_LAKERA, BYPASS, {}),
    ("kreq-000003", "kong", "support", "zendesk-assist", "gpt-4o-mini", "openai", "success", NOT_RUN_PRESIDIO,
     BYPASS, {}),
    ("kreq-000004", "kong", "support", "zendesk-assist", "claude-sonnet-4", "anthropic", "success", NOT_RUN_PRESIDIO,
     BYPASS, {}),
    # 5 the sanitizer masked two emails, but it is not presidio
    ("kreq-000005", "kong", "support", "zendesk-assist", "claude-sonnet-4", "anthropic", "success",
     [{"name": "sanitizer", "stage": "input", "result": "masked"}, *NOT_RUN_PRESIDIO], BYPASS, {"email": 2}),
    # 6 research on gpt-4o (not approved), blocked by lakera
    ("kreq-000006", "kong", "research", "intern-app", "gpt-4o", "openai", "guardrail_blocked",
     [{"name": "lakera-prompt-injection", "stage": "input", "result": "blocked"}], ["unapproved_model"], {}),
]
FIELDS = ("request_id", "format", "team", "app", "model", "provider", "outcome", "guardrails", "violations",
          "entities")


def audit_lines(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for path in sorted(directory.glob("audit-*.jsonl"))
            for line in path.read_bytes().splitlines()]


def ingest_fixtures(exporter: Exporter, litellm: list[dict[str, Any]], kong: list[dict[str, Any]]) -> None:
    assert post_json(exporter.url, "litellm", litellm)[1]["accepted"] == 10
    assert post_json(exporter.url, "kong", kong)[1]["accepted"] == 6


def reports(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reports", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, env=clean_env(), timeout=120, check=False)


def test_the_exporter_writes_one_line_per_relevant_sample_record(
    tmp_path: Path, exporter_factory: Callable[..., Exporter],
    litellm_records: list[dict[str, Any]], kong_records: list[dict[str, Any]],
) -> None:
    audit = tmp_path / "audit"
    running = exporter_factory("--audit-dir", audit)
    ingest_fixtures(running, litellm_records, kong_records)
    metrics = running.scrape()  # a scrape writes the buffered lines first
    written = audit_lines(audit)
    assert [line["kind"] for line in written] == ["roll"] + ["request"] * len(EXPECTED)
    assert [tuple(line[k] for k in FIELDS) for line in written[1:]] == EXPECTED
    assert [line["seq"] for line in written] == list(range(1, len(EXPECTED) + 2))
    assert total(metrics, "genai_audit_chain_length") == len(EXPECTED) + 1
    last = next(audit.glob("audit-*.jsonl")).read_bytes().splitlines()[-1]
    assert total(metrics, "genai_audit_chain_head") == int(hashlib.sha256(last).hexdigest()[:13], 16)
    assert total(metrics, "genai_audit_write_failures_total") == 0
    assert total(metrics, "genai_audit_chain_verified") == 1
    assert running.stop() == 0

    # A restart (the same day: no second roll line) continues the chain; the sample records again,
    # under new ids, add the same lines.
    again = exporter_factory("--audit-dir", audit)
    for record in litellm_records:
        record["id"] = "again-" + record["id"]
    for record in kong_records:
        record["request"]["id"] = "again-" + record["request"]["id"]
    ingest_fixtures(again, litellm_records, kong_records)
    assert total(again.scrape(), "genai_audit_chain_length") == 2 * len(EXPECTED) + 1
    assert again.stop() == 0
    result = reports("audit", "verify", audit)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: {2 * len(EXPECTED) + 1} lines in 1 files" in result.stdout


def test_nothing_planted_in_records_reaches_the_audit_log(
    tmp_path: Path, exporter_factory: Callable[..., Exporter],
    litellm_records: list[dict[str, Any]], kong_records: list[dict[str, Any]],
) -> None:
    audit = tmp_path / "audit"
    running = exporter_factory("--audit-dir", audit)
    litellm = _litellm_canaries(litellm_records)
    assert post_json(running.url, "litellm", litellm)[1]["accepted"] == len(litellm)
    assert post(running.url, "/ingest/kong", b"\n".join(_kong_canaries(kong_records)),
                {"Content-Type": "application/x-ndjson"})[0] == 202
    assert post(running.url, "/ingest/events", b"[" + b",".join(_events_canaries()) + b"]",
                {"Content-Type": "application/json"})[0] == 202
    running.scrape()
    assert running.stop() == 0
    content = b"".join(path.read_bytes() for path in audit.iterdir())
    # Meaningful only if the planted records were written: masked, fail-open and the planted events.
    requests = [line for line in audit_lines(audit) if line["kind"] == "request"]
    assert len(requests) >= 4
    assert any(line["entities"] for line in requests)
    for planted in PLANTED:
        assert planted.encode() not in content, f"{planted!r} in the audit log"
    assert b"canary" not in content.lower()
    assert "canary" not in running.log().lower()


def test_verify_and_purge_exit_codes(tmp_path: Path) -> None:
    from tests.test_audit import write_days

    audit = tmp_path / "audit"
    write_days(audit, (2, 1, 1))
    spec = tmp_path / "spec.yaml"
    spec.write_text((ROOT / "ops.yaml").read_text())
    assert reports_main(["audit", "verify", str(audit)]) == 0
    path = audit / "audit-2026-11-30.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"email":1', b'"email":4'))
    result = reports("audit", "verify", audit)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "audit-2026-11-30.jsonl:2: seq 5: edited: this line's hash does not match the prev of the next line "
        "(audit-2026-12-01.jsonl:1)"
    ]
    assert reports("audit", "verify", tmp_path / "nowhere").returncode == 2
    assert reports("audit", "verify").returncode == 2
    # today 2027-05-29: 2026-11-30 is 180 days old, 2026-12-01 179
    refused = reports("audit", "purge", audit, "--before", "2026-12-02", "--spec", spec, "--today", "2027-05-29")
    assert refused.returncode == 2 and "retention minimum of 180 days" in refused.stderr
    assert len(list(audit.iterdir())) == 3
    done = reports("audit", "purge", audit, "--before", "2026-12-01", "--spec", spec, "--today", "2027-05-29")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in audit.iterdir()) == ["audit-2026-12-01.jsonl"]
    assert done.stdout.splitlines()[:2] == ["purged audit-2026-11-29.jsonl", "purged audit-2026-11-30.jsonl"]


@pytest.mark.binaries
def test_prometheus_record_exposes_a_truncated_tail_and_an_edited_head(
    tmp_path: Path, exporter_factory: Callable[..., Exporter],
    litellm_records: list[dict[str, Any]], kong_records: list[dict[str, Any]],
) -> None:
    audit = tmp_path / "audit"
    running = exporter_factory("--audit-dir", audit)
    target = running.url.removeprefix("http://")
    with Prometheus(tmp_path / "prometheus", scrape_config([target])) as prom:
        ingest_fixtures(running, litellm_records, kong_records)
        length = len(EXPECTED) + 1
        prom.wait_until(lambda: prom.query("genai_audit_chain_length") != []
                        and prom.scalar("genai_audit_chain_length") == length, what="the chain length scraped")
        assert running.stop() == 0
        intact = reports("audit", "verify", audit, "--prometheus", prom.url)
        assert intact.returncode == 0, intact.stdout + intact.stderr
        assert "as long as Prometheus recorded" in intact.stdout

        day = next(audit.glob("audit-*.jsonl"))
        content = day.read_bytes().splitlines(keepends=True)
        alone = reports("audit", "verify", audit)

        # The last three lines cut off: the files alone still verify.
        day.write_bytes(b"".join(content[:-3]))
        assert reports("audit", "verify", audit).returncode == 0
        cut = reports("audit", "verify", audit, "--prometheus", prom.url)
        assert cut.returncode == 1
        assert cut.stdout.splitlines() == [
            f"(end of chain): truncated tail: Prometheus recorded a chain of {length} lines, the files end at seq "
            f"{length - 3}: seq {length - 2}..{length} were removed from the end of the newest file, or the newest "
            "day file(s) deleted"
        ]

        # The last line edited: the chain verifies alone, its hash is not the head Prometheus saw.
        day.write_bytes(b"".join(content[:-1]) + content[-1].replace(b'"research"', b'"legal"'))
        assert reports("audit", "verify", audit).returncode == 0
        edited = reports("audit", "verify", audit, "--prometheus", prom.url)
        assert edited.returncode == 1
        assert edited.stdout.startswith(f"{day.name}:{length}: seq {length}: edited line: ")
        assert alone.returncode == 0
        assert json.dumps(prom.query("genai_audit_chain_verified"))  # scraped as well
