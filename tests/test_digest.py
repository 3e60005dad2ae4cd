"""The budget-owner digest against a real Prometheus holding a hand-made September.

Marketing (budget 4,000 USD) spends 100 USD a day on gpt-4o-mini all month (its exporter
restarts on the 10th at noon, resetting that counter), 50 USD a day on claude-haiku-3-5 from
the 5th (a series first seen mid-month) and 10 USD a day through an app the spec does not know.
Search spends 20 USD a day. Every figure below is worked out by hand from those rates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract import catalog
from tests.support.openmetrics import Series, grid, linear, serve
from tests.support.prometheus import Prometheus, free_port
from tests.test_savings import SPEC_FILE, run_cli

DAY = 86_400.0
STEP = 600.0


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


BEGIN, FINISH = ts("2026-08-31T00:00"), ts("2026-10-02T00:00")
RESTART = ts("2026-09-10T12:00")
TIMES = grid(BEGIN, FINISH, STEP)

# (team, app, model, provider, USD a day, requests a day, first seen)
ROUTES = (
    ("marketing", "campaign-writer", "gpt-4o-mini", "openai", 100.0, 1000.0, BEGIN),
    ("marketing", "campaign-writer", "claude-haiku-3-5", "anthropic", 50.0, 200.0, ts("2026-09-05T00:00")),
    ("marketing", "social-posts", "gemini-2.5-flash", "vertex_ai", 10.0, 100.0, BEGIN),
    ("search", "query-rewriter", "o3", "openai", 20.0, 50.0, BEGIN),
)


def _counter(name: str, labels: dict[str, str], per_day: float, since: float, restart: bool) -> Series:
    rate = per_day / DAY
    if not restart:
        return Series(name, labels, linear(rate, TIMES, since))
    before = [(t, v) for t, v in linear(rate, TIMES, since) if t < RESTART]
    # After the restart the counter starts again from 0; its first sample holds one step's worth.
    after = linear(rate, TIMES, RESTART - STEP)
    return Series(name, labels, (*before, *((t, v) for t, v in after if t >= RESTART)))


def _alert(name: str, team: str, severity: str, start: str, end: str, state: str = "firing") -> Series:
    labels = {"alertname": name, "alertstate": state, "severity": severity, "team": team}
    return Series("ALERTS", labels, tuple((t, 1.0) for t in grid(ts(start), ts(end) - 60, 60.0)))


def month_series() -> Iterator[Series]:
    for team, app, model, provider, usd, requests, since in ROUTES:
        route = {"team": team, "app": app, "model": model, "provider": provider}
        restart = model == "gpt-4o-mini"
        yield _counter(catalog.COST.name, route, usd, since, restart)
        yield _counter(catalog.REQUESTS.name, {**route, "operation": "chat", "outcome": "success", "cache": "miss"},
                       requests, since, restart)
    # Two spells of the 50 % threshold alert: 6 h on the 12th, 2 h on the 14th.
    yield _alert("GenAIBudgetThreshold", "marketing", "info", "2026-09-12T00:00", "2026-09-12T06:00")
    yield _alert("GenAIBudgetThreshold", "marketing", "info", "2026-09-14T00:00", "2026-09-14T02:00")
    yield _alert("GenAIBudgetOverrunProjected", "marketing", "warning", "2026-09-15T00:00", "2026-09-15T01:00",
                 state="pending")  # pending is not firing
    yield _alert("GenAIBudgetExhausted", "marketing", "warning", "2026-09-27T00:00", "2026-09-27T01:00")  # after as-of
    yield _alert("GenAICostAnomaly", "search", "warning", "2026-09-13T00:00", "2026-09-13T01:00")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with serve(month_series(), tmp_path_factory.mktemp("digest")) as prom:
        yield prom


def digest(prom: Prometheus, out: Path, *extra: str) -> str:
    result = run_cli("digest", "--prometheus", prom.url, "--spec", str(SPEC_FILE), "--month", "2026-09",
                     "--out", str(out), *extra)
    assert result.returncode == 0, result.stderr
    return out.read_text()


@pytest.mark.binaries
def test_mid_month_digest(prometheus: Prometheus, tmp_path: Path) -> None:
    text = digest(prometheus, tmp_path / "marketing.md", "--team", "marketing", "--as-of", "2026-09-16T00:00:00Z")
    # 15 days of gpt-4o-mini (1,500), 11 days of haiku from the 5th (550), 15 of social-posts (150).
    assert "| Month to date | 2,200.00 | 55.0% |" in text
    # The last 7 days ran at 160 a day; 15 days are left: 2,200 + 2,400.
    assert "| Projected at month end | 4,600.00 | 115.0% |" in text
    assert "| Budget | 4,000.00 | |" in text
    assert "160.00 USD a day" in text
    # (4,000 - 2,200) / 160 = 11.25 days after the 16th.
    assert "**On course to pass the budget around 2026-09-27.**" in text
    # Requests: campaign-writer 15 x 1,000 + 11 x 200 = 17,200; social-posts 15 x 100.
    assert "| campaign-writer | 2,050.00 | 93.2% | 17,200 |" in text
    assert "| social-posts | 150.00 | 6.8% | 1,500 |" in text
    assert "| gpt-4o-mini | 1,500.00 | 68.2% | 15,000 |" in text
    assert "| claude-haiku-3-5 | 550.00 | 25.0% | 2,200 |" in text
    assert "| gemini-2.5-flash | 150.00 | 6.8% | 1,500 |" in text
    assert ("| GenAIBudgetThreshold | info | 2 | 2026-09-12 00:00 UTC | 8.0 | "
            "[runbook](https://runbooks.northwind.example/gatewatch/GenAIBudgetThreshold.md) |") in text
    for absent in ("GenAIBudgetOverrunProjected |", "GenAIBudgetExhausted |", "GenAICostAnomaly |", "query-rewriter"):
        assert absent not in text
    assert "https://grafana.northwind.example/d/gatewatch-team/genai-team-self-service?var-team=marketing" in text
    assert "Tom Becker" in text and "@" not in text


@pytest.mark.binaries
def test_digest_of_a_finished_month(prometheus: Prometheus, tmp_path: Path) -> None:
    text = digest(prometheus, tmp_path / "marketing.md", "--team", "marketing", "--as-of", "2026-11-01T00:00:00Z")
    # 30 x 100 + 26 x 50 + 30 x 10; the running total passes 4,000 on the 27th (3,960 to the 26th).
    assert "| Month | 4,600.00 | 115.0% |" in text
    assert "Projected at month end" not in text
    assert "**Over budget since 2026-09-27.**" in text
    assert "GenAIBudgetExhausted | warning | 1 | 2026-09-27 00:00 UTC | 1.0 |" in text


@pytest.mark.binaries
def test_all_teams_writes_one_digest_per_team_with_spend(prometheus: Prometheus, tmp_path: Path) -> None:
    out = tmp_path / "digests"
    result = run_cli("digest", "--prometheus", prometheus.url, "--spec", str(SPEC_FILE), "--month", "2026-09",
                     "--as-of", "2026-09-16T00:00:00Z", "--all-teams", "--out-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["marketing.md", "search.md"]
    search = (out / "search.md").read_text()
    assert "| Month to date | 300.00 | 1.7% |" in search  # 15 x 20 of 18,000
    assert "| GenAICostAnomaly | warning | 1 | 2026-09-13 00:00 UTC | 1.0 |" in search
    assert "| Month to date | 2,200.00 | 55.0% |" in (out / "marketing.md").read_text()
    assert "no spend in 2026-09 for: support, analytics, legal, platform, research" in result.stdout


@pytest.mark.binaries
@pytest.mark.parametrize(("extra", "message"), [
    (("--team", "legal"), "error: no gatewatch spend for team legal between 2026-09-01 00:00 UTC and "
                          "2026-10-01 00:00 UTC in "),
    (("--team", "nobody"), "error: unknown team 'nobody'"),
])
def test_no_spend_or_unknown_team_is_a_clear_error_and_no_file(prometheus: Prometheus, tmp_path: Path,
                                                               extra: tuple[str, ...], message: str) -> None:
    out = tmp_path / "digest.md"
    result = run_cli("digest", "--prometheus", prometheus.url, "--spec", str(SPEC_FILE), "--month", "2026-09",
                     "--out", str(out), *extra)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_an_unreachable_prometheus_is_a_clear_error_and_no_file(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli("digest", "--prometheus", url, "--spec", str(SPEC_FILE), "--all-teams", "--out-dir",
                     str(tmp_path / "digests"), "--month", "2026-09")
    assert result.returncode == 2
    assert result.stderr == f"error: cannot reach Prometheus at {url}: connection refused\n"
    assert not (tmp_path / "digests").exists()


def test_recent_rate_reads_the_last_seven_days_only() -> None:
    from datetime import date

    from reports.digest import _recent_rate

    daily = {date(2026, 9, d): (1000.0 if d < 10 else 100.0) for d in range(1, 16)} | {date(2026, 9, 16): 50.0}
    # As of noon on the 16th: the 10th to the 15th (600) and half the 16th (50) over 6.5 days.
    assert _recent_rate(daily, ts("2026-09-01T00:00"), ts("2026-09-16T12:00")) == pytest.approx(100.0)
    # As of midnight: the 9th to the 15th, seven whole days.
    assert _recent_rate(daily, ts("2026-09-01T00:00"), ts("2026-09-16T00:00")) == pytest.approx(
        (1000 + 6 * 100) / 7)
    # Two days into the month: only those two days.
    assert _recent_rate(daily, ts("2026-09-01T00:00"), ts("2026-09-03T00:00")) == pytest.approx(1000.0)
