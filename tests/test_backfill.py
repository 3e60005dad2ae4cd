"""Backfill: simulated history as OpenMetrics that the real promtool turns into TSDB blocks.

The file's last scrape is compared with what the live exporter renders for the same records,
and the blocks promtool builds are read back and compared with a plain tally of the records.
"""

from __future__ import annotations

import functools
import io
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from contract import catalog
from contract import spec as spec_model
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from simulate import SimRecord, generate
from simulate.__main__ import main
from simulate.backfill import backfill
from tests.paths import EXAMPLE_SPEC
from tests.support.binaries import require
from tests.support.processes import Metrics, parse_metrics, total
from tests.support.truth import tally

SPEC = spec_model.load(EXAMPLE_SPEC)
START = 1_790_812_800.0  # 2026-10-01T00:00:00Z
STEP = 60.0
SPAN = 1800.0


@functools.cache
def history(scenario: str = "prompt_injection_burst", *, sample_every: int = 1, start: float = START,
            span: float = SPAN, rate: float = 5.0) -> str:
    out = io.StringIO()
    backfill(SPEC, scenario, out, start=start, end=start + span, rate=rate, step=STEP, incident_after=span / 2,
             sample_every=sample_every)
    return out.getvalue()


def the_records(scenario: str = "prompt_injection_burst") -> list[SimRecord]:
    """The same traffic, with its text, as the live simulator would post it."""
    return list(generate(SPEC, scenario, start=START, duration=SPAN, rate=5.0, incident_after=SPAN / 2))


def samples(text: str) -> list[tuple[str, float, float]]:
    """(series, value, timestamp) of every sample line."""
    out = []
    for line in text.splitlines():
        if not line.startswith("#"):
            series, value, ts = line.rsplit(" ", 2)
            out.append((series, float(value), float(ts)))
    return out


def scrape_at(text: str, ts: float) -> Metrics:
    lines = [f"{series} {value!r}" for series, value, t in samples(text) if t == ts]
    return parse_metrics("\n".join(lines))


def test_the_file_is_openmetrics_as_promtool_needs_it() -> None:
    text = history()
    assert text.endswith("\n# EOF\n")
    types = [line.split()[2:] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len({name for name, _ in types})  # each family declared once
    assert ["genai_requests", "counter"] in types and ["genai_request_duration_seconds", "histogram"] in types
    assert ["genai_team_budget_usd", "gauge"] in types
    by_series: dict[str, list[float]] = defaultdict(list)
    for series, _value, ts in samples(text):
        by_series[series].append(ts)
    steps = [START + k * STEP for k in range(int(SPAN / STEP) + 1)]
    # Every series is written at every step from its first appearance on, in time order.
    for series, times in by_series.items():
        assert times == steps[steps.index(times[0]):], series
    assert by_series['genai_team_budget_usd{team="search",period="month"}'] == steps
    assert any(s.startswith("genai_requests_total{") for s in by_series)


def test_the_last_scrape_is_what_the_live_exporter_exposes_for_the_same_records() -> None:
    rs = the_records()
    now = rs[-1].at
    # The live exporter began counting when the history starts.
    live = Pipeline(SPEC, recorder=Recorder(clock=lambda: START), clock=lambda: now)
    # As the running exporter does on start.
    live.read(lambda rec: [rec.inc(catalog.EXPORTER_SPEC_RELOADS, (r,), 0.0) for r in ("success", "failure")])
    for fmt in ("litellm", "kong"):
        live.ingest([orjson.dumps(r.payload) for r in rs if r.fmt == fmt], fmt, "http")
    expected = parse_metrics(live.scrape().decode())
    got = scrape_at(history(), START + SPAN)
    adoption = ("genai_team_first_seen_timestamp_seconds", "genai_team_first_success_timestamp_seconds")
    assert {k: v for k, v in got.items() if k[0] not in adoption} == pytest.approx(
        {k: v for k, v in expected.items() if k[0] not in adoption}, rel=1e-12)
    # Adoption times come from the clock at ingest: within a batch's span of the real first record.
    first_seen = {dict(labels)["team"]: v for (name, labels), v in got.items() if name == adoption[0]}
    assert first_seen.keys() == {dict(labels)["team"] for (name, labels) in expected if name == adoption[0]}
    first_record: dict[str, float] = {}
    for r in rs:
        (team,) = tally(SPEC, [(r.fmt, r.payload)]).requests
        first_record.setdefault(team, r.at)
    for team, seen in first_seen.items():
        assert first_record[team] <= seen <= first_record[team] + 1.0


def test_each_scrape_counts_exactly_the_records_before_it() -> None:
    rs = the_records()
    text = history()
    for ts in (START, START + STEP, START + 7 * STEP, START + SPAN / 2, START + SPAN / 2 + STEP, START + SPAN - STEP):
        before = [(r.fmt, r.payload) for r in rs if r.at < ts]
        metrics = scrape_at(text, ts)
        assert total(metrics, "genai_requests_total") == len(before), ts
        truth = tally(SPEC, before)
        assert total(metrics, "genai_cost_usd_total") == pytest.approx(truth.total_cost(), rel=1e-9, abs=1e-12)


def test_promtool_builds_blocks_that_hold_the_expected_counters(tmp_path: Path) -> None:
    promtool = require("promtool")
    path = tmp_path / "history.om"
    path.write_text(history())
    blocks = tmp_path / "blocks"
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(path), str(blocks)],
                   check=True, capture_output=True, timeout=300)
    (blocks / "wal").mkdir()  # promtool tsdb dump opens the directory as a (read-only) database
    dump = subprocess.run([promtool, "tsdb", "dump", str(blocks)], check=True, capture_output=True, text=True,
                          timeout=300).stdout
    last_ms = int((START + SPAN) * 1000)
    final: Metrics = {}
    counts: Counter[str] = Counter()
    for line in dump.splitlines():
        series, value, ts = line.rsplit(" ", 2)
        labels = dict(part.split("=", 1) for part in series.strip("{}").split(", "))
        name = labels.pop("__name__").strip('"')
        counts[name] += 1
        if int(ts) == last_ms:
            final[(name, frozenset((k, v.strip('"')) for k, v in labels.items()))] = float(value)

    truth = tally(SPEC, [(r.fmt, r.payload) for r in the_records()])
    for team, requests in truth.requests.items():
        assert total(final, "genai_requests_total", team=team) == requests, team
        assert total(final, "genai_cost_usd_total", team=team) == pytest.approx(truth.cost[team], rel=1e-9)
    for token_type, tokens in truth.tokens.items():
        assert total(final, "genai_tokens_total", type=token_type) == tokens
    assert total(final, "genai_exporter_events_total", result="accepted") == truth.records
    assert counts["genai_team_budget_usd"] == len(SPEC.teams) * (SPAN / STEP + 1)


def test_sample_every_scales_counters_and_histograms_but_not_gauges() -> None:
    ts = START + SPAN
    exact, sampled = scrape_at(history(), ts), scrape_at(history(sample_every=4), ts)
    for (name, _labels), value in sampled.items():
        # Counts are whole, so a four-fold weight leaves multiples of 4; sums of dollars or
        # seconds are not whole and are left to the totals below.
        if name.endswith(("_total", "_bucket", "_count")) and not any(u in name for u in ("usd", "seconds")):
            assert value % 4 == 0, name
    budget = ("genai_team_budget_usd", frozenset({("team", "search"), ("period", "month")}))
    assert sampled[budget] == exact[budget] == 18000
    requests = total(exact, "genai_requests_total")
    assert total(sampled, "genai_requests_total") == pytest.approx(requests, rel=0.15)


def test_budget_period_gauges_roll_over_at_the_month_boundary() -> None:
    october = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
    text = history("normal", start=october - 600, span=1200, rate=1.0)
    series = 'genai_team_budget_period_start_timestamp_seconds{team="legal",period="month"}'
    starts = {ts: value for s, value, ts in samples(text) if s == series}
    september = datetime(2026, 9, 1, tzinfo=UTC).timestamp()
    assert starts == {ts: (september if ts < october else october) for ts in starts}
    assert len(starts) == 21


def test_cli_writes_the_history_and_says_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.om"
    code = main(["--backfill", "--spec", str(EXAMPLE_SPEC), "--scenario", "runaway_loop", "--rate", "0.5",
                 "--start", "2026-10-01T00:00:00Z", "--end", "2026-10-01T00:10:00Z", "--step", "30",
                 "--out", str(out)])
    assert code == 0
    said = capsys.readouterr().out
    assert said.startswith("wrote ") and str(out) in said
    stamps = {ts for _s, _v, ts in samples(out.read_text())}
    assert stamps == {START + 30 * k for k in range(21)}


def test_cli_refuses_a_backfill_without_its_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--backfill", "--spec", str(EXAMPLE_SPEC), "--start", "2026-10-01T00:00:00Z"]) == 2
    assert "--end, --out" in capsys.readouterr().err
