"""The forecast: the fit on synthetic series with a known trend and weekly shape, planned
onboardings and price changes computed by hand, and the report from a real Prometheus."""

from __future__ import annotations

import csv
import random
import statistics
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from contract.spec import Price
from reports import cli
from reports.forecast import fit, price_factor
from reports.prometheus import ReportError
from tests.support.openmetrics import serve_text
from tests.support.prometheus import Prometheus

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "ops.yaml"  # gpt-4o 20 % cheaper from 2027-01-01; marketing onboards 2027-01-04 at 2500/month
HOUR = 3600.0
WEEKLY = (60.0, 40.0, 20.0, 0.0, -20.0, -40.0, -60.0)  # Monday first, sums to 0
ORIGIN = date(2026, 11, 17)   # a Tuesday: the first history day
AS_OF = date(2026, 12, 15)    # the forecast starts here; 28 history days before it


def search_daily(day: date) -> float:
    """The known truth: 400 USD a day on the first day, 5 USD more each day, and a weekly shape."""
    return 400 + 5 * (day - ORIGIN).days + WEEKLY[day.weekday()]


def test_fit_recovers_an_exact_trend_and_weekly_shape() -> None:
    values = [search_daily(ORIGIN + timedelta(days=t)) for t in range(28)]
    fitted = fit(ORIGIN, values)
    assert fitted.weekly
    assert fitted.slope == pytest.approx(5.0, abs=1e-9)
    later = date(2027, 3, 14)  # 90 days out, a Sunday: 400 + 5 * 117 - 60
    assert fitted.predict(later) == pytest.approx(925.0, abs=1e-6)


def test_fit_with_noise_lands_within_the_stated_error() -> None:
    """Daily noise uniform in +-5 % (sd 2.9 %) on 28 days: the 90-day total's standard error is
    about 2.7 % (the slope is extrapolated 2-4x the history's length), so every series should land
    within 3 SE = 8 % and the median error below 0.67 SE + margin = 2.5 %. A biased fit fails both:
    a slope 10 % off alone shifts the 90-day total by about 5 %."""
    truth = sum(search_daily(AS_OF + timedelta(days=n)) for n in range(90))
    errors = []
    for seed in range(100):
        noise = random.Random(seed)
        values = [search_daily(ORIGIN + timedelta(days=t)) * (1 + noise.uniform(-0.05, 0.05)) for t in range(28)]
        fitted = fit(ORIGIN, values)
        projected = sum(fitted.predict(AS_OF + timedelta(days=n)) for n in range(90))
        errors.append(abs(projected / truth - 1))
    assert max(errors) < 0.08
    assert statistics.median(errors) < 0.025


def test_short_history_fits_the_trend_alone() -> None:
    fitted = fit(ORIGIN, [100.0, 110.0, 120.0, 130.0, 140.0])
    assert not fitted.weekly
    assert fitted.slope == pytest.approx(10.0)
    assert fitted.predict(ORIGIN + timedelta(days=10)) == pytest.approx(200.0)


def test_one_day_is_not_enough() -> None:
    with pytest.raises(ReportError, match="at least 2 days"):
        fit(ORIGIN, [5.0])


def test_price_factor_weighs_the_teams_own_token_mix() -> None:
    old = Price(input_per_mtok=2.5, output_per_mtok=10.0, cached_input_per_mtok=1.25)
    new = Price(input_per_mtok=2.0, output_per_mtok=12.0)  # no cached price: cached input at the input price
    tokens = {"input": 1e6, "cached_input": 4e5, "output": 1e5, "reasoning": 5e4}
    # old: 0.6 * 2.5 + 0.4 * 1.25 + 0.1 * 10 = 3.0; new: 0.6 * 2 + 0.4 * 2 + 0.1 * 12 = 3.2
    assert price_factor(old, new, tokens) == pytest.approx(3.2 / 3.0)
    assert price_factor(old, new, {}) == pytest.approx(14.0 / 12.5)  # no tokens: list prices


def _series(metric: str, model: str, extra: str = "") -> str:
    return f'{metric}{{team="search",app="search-api",model="{model}",provider="openai"{extra}}}'


def openmetrics() -> str:
    """Hourly samples from ORIGIN to AS_OF: search's daily spend, spread evenly over the day and
    half on gpt-4o, half on gpt-4o-mini; gpt-4o's tokens too."""
    lines = ["# HELP genai_cost_usd Spend.\n", "# TYPE genai_cost_usd counter\n",
             "# HELP genai_tokens Tokens.\n", "# TYPE genai_tokens counter\n"]
    start = datetime(ORIGIN.year, ORIGIN.month, ORIGIN.day, tzinfo=UTC).timestamp()
    hours = int((AS_OF - ORIGIN).days * 24)
    for model in ("gpt-4o", "gpt-4o-mini"):
        value = 0.0
        for h in range(hours + 1):
            if h:
                value += search_daily(ORIGIN + timedelta(days=(h - 1) // 24)) / 2 / 24
            lines.append(f"{_series('genai_cost_usd_total', model)} {value!r} {int(start + h * HOUR)}\n")
    for kind, per_hour in (("input", 1000), ("cached_input", 200), ("output", 100)):
        name = _series("genai_tokens_total", "gpt-4o", f',type="{kind}"')
        lines.extend(f"{name} {h * per_hour} {int(start + h * HOUR)}\n" for h in range(hours + 1))
    return "".join(lines) + "# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with serve_text(openmetrics(), tmp_path_factory.mktemp("prom")) as prom:
        yield prom


def run(url: str, tmp_path: Path, fmt: str = "csv", as_of: date = AS_OF) -> tuple[int, Path]:
    out = tmp_path / f"forecast.{fmt}"
    code = cli.main(["forecast", "--prometheus", url, "--spec", str(SPEC), "--as-of", as_of.isoformat(),
                     "--format", fmt, "--out", str(out)])
    return code, out


def daily(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    with path.open() as handle:
        return {(r["team"], r["date"]): {k: float(v) for k, v in r.items() if k.endswith("_usd") and v}
                for r in csv.DictReader(handle)}


def test_projection_with_price_change_and_onboarding(prometheus: Prometheus, tmp_path: Path) -> None:
    code, out = run(prometheus.url, tmp_path)
    assert code == 0
    rows = daily(out)
    assert {team for team, _ in rows} == {"search", "marketing"}
    # 2026-12-31, a Thursday, t = 44: 400 + 220 + 0, before the price change.
    assert rows[("search", "2026-12-31")]["projected_usd"] == pytest.approx(620.0, abs=1e-3)
    # 2027-01-01, a Friday, t = 45: 400 + 225 - 20 = 605; gpt-4o is half of it and 20 % cheaper
    # (every price x0.8, so any token mix gives 0.8): 605 * (0.5 + 0.5 * 0.8) = 544.5.
    jan1 = rows[("search", "2027-01-01")]
    assert jan1["trend_usd"] == pytest.approx(605.0, abs=1e-3)
    assert jan1["price_change_usd"] == pytest.approx(-60.5, abs=1e-3)
    assert jan1["projected_usd"] == pytest.approx(544.5, abs=1e-3)
    # Marketing has no history: only the onboarding, 2500 USD over each month's days from 4 January.
    assert rows[("marketing", "2027-01-03")]["projected_usd"] == 0.0
    assert rows[("marketing", "2027-01-04")]["projected_usd"] == pytest.approx(2500 / 31, abs=1e-3)
    assert rows[("marketing", "2027-02-10")]["projected_usd"] == pytest.approx(2500 / 28, abs=1e-3)
    marketing = [v["projected_usd"] for (team, _), v in sorted(rows.items()) if team == "marketing"]
    assert len(marketing) == 90
    assert sum(marketing[:30]) == pytest.approx(10 * 2500 / 31, abs=1e-2)             # 4-13 Jan
    assert sum(marketing) == pytest.approx(28 * 2500 / 31 + 2500 + 14 * 2500 / 31, abs=1e-2)  # to 14 Mar


def test_budget_crossing_is_the_first_day_month_to_date_exceeds_it(prometheus: Prometheus, tmp_path: Path) -> None:
    # December (actual to the 14th, projected after): sum of 400 + 5t for t = 14..44 is 16895, the
    # weekly shape adds Tue+Wed+Thu of the 29th-31st = 60: 16955 < 18000. January at 0.9x: the
    # first k days from t = 45 sum to 400k + 5(45k + k(k-1)/2) plus the shape from a Friday; k = 28
    # gives 19390 (x0.9 = 17451), k = 29 gives 20155 - 20 = 20135 (x0.9 = 18121.5 > 18000).
    code, out = run(prometheus.url, tmp_path, fmt="md")
    assert code == 0
    text = out.read_text()
    search = next(line for line in text.splitlines() if line.startswith("| search |"))
    assert "2027-01 on day 29 (2027-01-29)" in search
    marketing = next(line for line in text.splitlines() if line.startswith("| marketing |"))
    assert "not within 90 days" in marketing  # 2500 a month against a 4000 budget
    assert "gpt-4o price change from 2027-01-01, 50.0% of its spend, cost x0.800" in text
    assert "marketing: onboarding from 2027-01-04" in text


def test_no_history_exits_2(prometheus: Prometheus, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(prometheus.url, tmp_path, as_of=date(2025, 6, 1))  # history: the 28 days from 4 May
    assert code == 2
    assert not out.exists()
    assert "no gatewatch data between 2025-05-04T00:00:00Z and 2025-06-01T00:00:00Z" in capsys.readouterr().err


def test_unreachable_prometheus_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run("http://127.0.0.1:9", tmp_path)
    assert code == 2
    assert not out.exists()
    assert capsys.readouterr().err.startswith("error: cannot reach Prometheus at http://127.0.0.1:9")
