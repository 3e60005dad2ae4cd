"""Chargeback against a real Prometheus holding a backfilled month with a known ground truth.

October 2026 at a 6 h scrape step, a few records per hour, in two exporter lifetimes: the
second starts on the 16th with its state lost, so every counter resets to 0 (a few small series
grow past their old value before the next scrape, so no drop shows). Series of rarely
used team/app/model combinations are first seen mid-month, where ``increase()`` would drop
their first samples. Totals must match the records within 0.1 %, in total and per team.
"""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import date
from pathlib import Path

import pytest

from contract import spec as spec_model
from reports.chargeback import allocate, collect
from reports.counters import counted_across, counted_from, daily_increases
from reports.periods import month, parse_range
from reports.prometheus import PrometheusClient, ReportError
from tests.paths import EXAMPLE_SPEC
from tests.support.binaries import require
from tests.support.history import History, Segment
from tests.support.prometheus import Prometheus, scrape_config

SPEC = spec_model.load(EXAMPLE_SPEC)
OCT = 1_790_812_800.0  # 2026-10-01T00:00:00Z
DAY = 86_400.0
RESTART = OCT + 15 * DAY
HISTORY = History(SPEC, (Segment(OCT - DAY, RESTART, 1), Segment(RESTART, OCT + 32 * DAY, 2)),
                  rate=0.002, step=21_600.0)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Prometheus:
    with HISTORY.serve(tmp_path_factory.mktemp("history")) as prom:
        yield prom


def test_month_totals_match_the_records(prometheus: Prometheus) -> None:
    truth = HISTORY.truth(OCT, OCT + 31 * DAY)
    report = collect(PrometheusClient(prometheus.url), SPEC, month("2026-10"))
    assert truth.total_cost() > 0
    assert report.total_cost() == pytest.approx(truth.total_cost(), rel=1e-3)
    assert report.total_requests() == pytest.approx(truth.records, rel=1e-3)
    direct = report.direct_by_team()
    assert set(direct) == {t for t, c in truth.cost.items() if c > 0}
    for team, cost in truth.cost.items():
        assert direct.get(team, 0.0) == pytest.approx(cost, rel=1e-3, abs=1e-9), team


def test_increase_alone_would_miss_spend(prometheus: Prometheus) -> None:
    """The history really has what the technique is for: PromQL increase() is off by more than 0.1 %."""
    naive = sum(float(r["value"][1]) for r in prometheus.query(
        "sum(increase(genai_cost_usd_total[31d]))", at=OCT + 31 * DAY))
    truth = HISTORY.truth(OCT, OCT + 31 * DAY).total_cost()
    assert abs(naive - truth) / truth > 1e-3


def test_a_range_across_the_restart_matches(prometheus: Prometheus) -> None:
    start, end = RESTART - 2 * DAY, RESTART + 3 * DAY
    truth = HISTORY.truth(start, end)
    report = collect(PrometheusClient(prometheus.url), SPEC, parse_range("2026-10-14", "2026-10-19"))
    assert report.total_cost() == pytest.approx(truth.total_cost(), rel=1e-3)
    for team, cost in truth.cost.items():
        assert report.direct_by_team().get(team, 0.0) == pytest.approx(cost, rel=1e-3, abs=1e-9), team


def test_allocation_moves_the_shared_app_and_keeps_the_total(prometheus: Prometheus) -> None:
    report = collect(PrometheusClient(prometheus.url), SPEC, month("2026-10"))
    shared = sum(line.cost for line in report.daily if line.app == "eval-harness")
    assert shared > 0
    assert sum(report.by_team().values()) == pytest.approx(report.total_cost(), rel=1e-9)
    moved_in = {}
    for line in report.allocations:
        if line.allocation.startswith("allocated in"):
            moved_in[line.team] = moved_in.get(line.team, 0.0) + line.cost
    assert set(moved_in) == {"search", "support", "analytics", "legal"}
    assert sum(moved_in.values()) == pytest.approx(shared, rel=1e-9)
    requests = {t: sum(x.requests for x in report.daily if x.team == t and x.app != "eval-harness")
                for t in moved_in}
    for team, cost in moved_in.items():
        assert cost / shared == pytest.approx(requests[team] / sum(requests.values()), rel=1e-9)


def test_a_period_without_data_is_an_error(prometheus: Prometheus) -> None:
    with pytest.raises(ReportError, match="no gatewatch data between 2025-01-01T00:00:00Z"):
        collect(PrometheusClient(prometheus.url), SPEC, month("2025-01"))


@pytest.mark.parametrize(
    ("samples", "baseline", "expected"),
    [
        ([(1, 5.0), (2, 7.0)], None, 7.0),        # born in the window: counts from 0
        ([(1, 5.0), (2, 7.0)], 4.0, 3.0),
        ([(1, 5.0), (2, 1.0), (3, 4.0)], 4.0, 1.0 + 1.0 + 3.0),  # reset: the drop counts from 0
        ([(0, 4.0), (1, 6.0)], 4.0, 2.0),          # the sample at the window's start is the baseline
    ],
)
def test_counted_from(samples: list[tuple[float, float]], baseline: float | None, expected: float) -> None:
    assert counted_from(samples, baseline, after=0) == expected


@pytest.mark.parametrize(
    ("samples", "starts", "after", "expected"),
    [
        ([(0, 5.0), (1, 8.0), (2, 9.0)], [(0, 100.0), (2, 200.0)], 0, 3.0 + 9.0),  # restarted, grew past 8
        ([(0, 5.0), (1, 8.0), (2, 9.0)], [(0, 100.0)], 0, 4.0),  # the same start: one lifetime
        ([(0, 2.0), (3, 3.0)], [(0, 100.0), (1, 200.0)], 2, 3.0),  # restarted between baseline and window
        ([(3, 7.0)], [(0, 100.0)], 2, 7.0),  # no baseline: counts from 0
        ([(0, 4.0), (1, 1.0)], [], 0, 1.0),  # no start known: a drop is still a reset
        ([(0, 4.0), (1, 6.0)], [(1, 200.0)], 0, 2.0),  # the baseline's start unknown: not a restart
    ],
)
def test_counted_across(samples: list[tuple[float, float]], starts: list[tuple[float, float]], after: float,
                        expected: float) -> None:
    assert counted_across(samples, starts, after) == expected


H = 3600.0
OCT2 = OCT + DAY
A = 'instance="a:9464",job="gatewatch"'  # restarts at 10:30 on the 2nd with its state lost
B = 'instance="b:9464",job="gatewatch"'  # runs throughout
START_GAUGE = "genai_exporter_counters_start_timestamp_seconds"


def _steps(value: float, first: float, last: float) -> list[tuple[float, float]]:
    """``value`` scraped every hour from ``first`` to ``last`` (offsets from the 2nd, in hours)."""
    return [(OCT2 + h * H, value) for h in range(int(first), int(last) + 1)]


RESTARTS = {
    f"{START_GAUGE}{{{A}}}": _steps(OCT, -24, 10) + _steps(OCT2 + 10.5 * H, 11, 48),
    f"{START_GAUGE}{{{B}}}": _steps(OCT - 5 * DAY, -24, 48),
    # 5 -> 8 before the restart, then 9 from 0: more than before, so no drop shows.
    f'genai_requests_total{{{A},team="search"}}': (
        _steps(5, -24, 4) + _steps(8, 5, 10) + _steps(9, 14, 26) + _steps(12, 27, 48)),
    # Not seen after the restart until the next day, then above its old value.
    f'genai_requests_total{{{A},team="support"}}': _steps(2, -24, 10) + _steps(3, 29, 48),
    f'genai_requests_total{{{B},team="search"}}': _steps(1, -24, 11) + _steps(4, 12, 48),
}


@pytest.fixture(scope="module")
def restarts(tmp_path_factory: pytest.TempPathFactory) -> Prometheus:
    workdir = tmp_path_factory.mktemp("restarts")
    lines = [f"# HELP {START_GAUGE} Counters start.\n", f"# TYPE {START_GAUGE} gauge\n",
             "# HELP genai_requests Requests.\n", "# TYPE genai_requests counter\n"]
    for series, samples in RESTARTS.items():
        lines.extend(f"{series} {value!r} {int(at)}\n" for at, value in samples)
    (workdir / "history.om").write_text("".join(lines) + "# EOF\n")
    (workdir / "data").mkdir()
    subprocess.run([require("promtool"), "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=200h",
                    str(workdir / "history.om"), str(workdir / "data")], check=True, capture_output=True)
    with Prometheus(workdir, scrape_config([], interval="1h"), args=("--storage.tsdb.retention.time=100y",)) as prom:
        yield prom


def test_a_lost_state_restart_is_counted_even_where_no_drop_shows(restarts: Prometheus) -> None:
    period = parse_range("2026-10-02", "2026-10-04")
    got = daily_increases(PrometheusClient(restarts.url), "genai_requests_total", period)

    def key(instance: str, team: str) -> tuple[tuple[str, str], ...]:
        return (("instance", instance), ("job", "gatewatch"), ("team", team))

    assert got == {
        (date(2026, 10, 2), key("a:9464", "search")): 3.0 + 9.0,
        (date(2026, 10, 3), key("a:9464", "search")): 3.0,
        (date(2026, 10, 3), key("a:9464", "support")): 3.0,
        (date(2026, 10, 2), key("b:9464", "search")): 3.0,
    }


def test_even_allocation_without_requests() -> None:
    from reports.chargeback import Line

    rule = spec_model.Allocation(app="shared", method="even", teams=("a", "b"))
    line = Line(None, "owner", "shared", "m", "p", cost=10.0, requests=4.0)
    moved = allocate((line,), (rule,))
    assert [(x.team, x.cost) for x in moved] == [("owner", -5.0), ("a", 5.0), ("owner", -5.0), ("b", 5.0)]


def _csv_rows(path: Path) -> list[list[str]]:
    return [r for r in csv.reader(io.StringIO(path.read_text())) if r and not r[0].startswith("#")]
