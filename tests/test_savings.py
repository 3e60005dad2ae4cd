"""Savings recommendations against a real Prometheus holding hand-made counters.

One day of exact, linear counters is written as OpenMetrics and loaded with promtool; each
recommendation kind has an app built to trigger it and apps built to miss each of its
conditions. Every saving below is computed by hand from the numbers in ``APPS``.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract import catalog, spec
from contract.promql import format_le
from reports import savings
from reports.savings import Usage, Window
from tests.paths import ROOT
from tests.support.openmetrics import Series, grid, linear, serve
from tests.support.prometheus import Prometheus, free_port

SPEC_FILE = ROOT / "ops.yaml"
SPEC = spec.load(SPEC_FILE)
END = datetime(2026, 10, 15, tzinfo=UTC).timestamp()
DAY = 86_400.0
START = END - DAY


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reports", *args], check=False, capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


# ---- the day of traffic ------------------------------------------------------------------------

@dataclass(frozen=True)
class App:
    team: str
    app: str
    model: str
    provider: str
    requests: float
    hits: float
    input: float
    cached_input: float
    output: float
    reasoning: float
    cost: float
    cache_saved: float


APPS = (
    # Cheaper tier: 95 % of search's gpt-4o prompts <= 1024 tokens, 200 output tokens a request.
    App("search", "search-api", "gpt-4o", "openai", 10_000, 5_000, 5e6, 1e6, 2e6, 0, 31.25, 3.0),
    # Low cache hit ratio: 20,000 requests, 5 % hits. Short prompts, but 800 output tokens a request.
    App("support", "zendesk-assist", "gpt-4o", "openai", 20_000, 1_000, 1e7, 0, 1.6e7, 0, 185.0, 2.0),
    # Batch: non-interactive, 2,000 a day; 20 % hits keeps it out of the cache rule.
    App("analytics", "nightly-batch", "gpt-4o-mini", "openai", 2_000, 400, 4e6, 0, 1e6, 0, 40.0, 0.4),
    # Reasoning: 80 % of o3's output; o-series has no cheaper tier; 500 a day is low volume.
    App("search", "query-rewriter", "o3", "openai", 500, 0, 1e6, 0, 1e6, 8e5, 12.0, 0.0),
    # Premium with long prompts (50 % short), reasoning 30 %: nothing.
    App("legal", "contract-review", "claude-sonnet-4", "anthropic", 500, 0, 2e6, 0, 1e6, 3e5, 30.0, 0.0),
    # Low volume with no hits: nothing.
    App("marketing", "campaign-writer", "gpt-4o-mini", "openai", 500, 0, 5e5, 0, 2e5, 0, 1.0, 0.0),
    # Non-interactive but low volume: nothing.
    App("platform", "eval-harness", "gpt-4o-mini", "openai", 500, 50, 1e6, 0, 1e5, 0, 5.0, 0.1),
)
SHORT_PROMPTS = {("search", "gpt-4o"): 0.95, ("support", "gpt-4o"): 1.0, ("legal", "claude-sonnet-4"): 0.5}

# By hand:
# search-api on gpt-4o: 4M fresh x 2.50 + 1M cached x 1.25 + 2M out x 10.00 = 31.25 USD (its cost);
#   on gpt-4o-mini: 4M x 0.15 + 1M x 0.075 + 2M x 0.60 = 1.875 USD; (31.25 - 1.875) x 30 = 881.25.
# nightly-batch: 40 USD x 50 % x 30 = 600.
# zendesk-assist: 2.0 USD / 1,000 hits = 0.002 a hit; (30 % - 5 %) x 20,000 = 5,000 hits = 10 USD a day: 300.
# search on o3: visible output 200k, reasoning kept at 50 % = 200k, 600k x 8.00 / 1M = 4.8 a day: 144.
EXPECTED = [
    ("cheaper_tier", "search", "search-api", "gpt-4o", 881.25),
    ("batch", "analytics", "nightly-batch", "", 600.0),
    ("cache", "support", "zendesk-assist", "", 300.0),
    ("reasoning", "search", "", "o3", 144.0),
]


def day_series() -> Iterator[Series]:
    begin = START - 3600  # an hour of history before the window: every series has a baseline
    times = grid(begin, END + 600, 60.0)

    def counter(name: str, labels: dict[str, str], per_day: float) -> Series:
        return Series(name, labels, linear(per_day / DAY, times, begin))

    prompts: dict[tuple[str, str], float] = {}
    for a in APPS:
        route = {"team": a.team, "app": a.app, "model": a.model, "provider": a.provider}
        for cache, count in (("hit", a.hits), ("miss", a.requests - a.hits)):
            yield counter(catalog.REQUESTS.name, {**route, "operation": "chat", "outcome": "success", "cache": cache},
                          count)
        for token_type, count in (("input", a.input), ("cached_input", a.cached_input), ("output", a.output),
                                  ("reasoning", a.reasoning)):
            yield counter(catalog.TOKENS.name, {**route, "type": token_type}, count)
        yield counter(catalog.COST.name, route, a.cost)
        yield counter(catalog.CACHE_SAVED.name, {"team": a.team, "app": a.app, "model": a.model}, a.cache_saved)
        prompts[(a.team, a.model)] = prompts.get((a.team, a.model), 0.0) + a.requests
    name = catalog.PROMPT_TOKENS.name
    for (team, model), count in prompts.items():
        short = SHORT_PROMPTS.get((team, model), 1.0) * count
        for bound in catalog.PROMPT_TOKEN_BUCKETS:
            le = format_le(bound)
            in_bucket = short if bound <= savings.SHORT_PROMPT_TOKENS else count
            yield counter(f"{name}_bucket", {"team": team, "model": model, "le": le}, in_bucket)
        yield counter(f"{name}_bucket", {"team": team, "model": model, "le": "+Inf"}, count)
        yield counter(f"{name}_count", {"team": team, "model": model}, count)
        yield counter(f"{name}_sum", {"team": team, "model": model}, count * 500)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with serve(day_series(), tmp_path_factory.mktemp("savings")) as prom:
        yield prom


def _args(prom: Prometheus, *extra: str) -> tuple[str, ...]:
    return ("savings", "--prometheus", prom.url, "--spec", str(SPEC_FILE), "--days", "1",
            "--end", "2026-10-15T00:00:00Z", *extra)


# ---- against the real Prometheus ---------------------------------------------------------------

@pytest.mark.binaries
def test_each_kind_fires_on_its_app_and_nowhere_else(prometheus: Prometheus) -> None:
    window = Window(START, END)
    found = savings.recommend(SPEC, savings.read_usage(savings.PrometheusClient(prometheus.url), window), window)
    got = [(r.kind, r.team, r.app, r.model, r.monthly_saving_usd) for r in found]
    assert [g[:4] for g in got] == [e[:4] for e in EXPECTED]
    for (*_, saving), (*_, expected) in zip(got, EXPECTED, strict=True):
        assert saving == pytest.approx(expected, rel=1e-6)


@pytest.mark.binaries
def test_markdown_report_shows_saving_evidence_and_queries(prometheus: Prometheus, tmp_path: Path) -> None:
    out = tmp_path / "savings.md"
    result = run_cli(*_args(prometheus, "--out", str(out)))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "| 1 | cheaper_tier | search | search-api | gpt-4o | 881.25 |" in text
    assert "| 4 | reasoning | search | - | o3 | 144.00 |" in text
    assert "Up to 1,925.25 USD a month across 4 recommendations" in text
    assert "- cost on gpt-4o: 31.25 USD" in text
    assert "- same tokens on gpt-4o-mini: 1.88 USD" in text
    assert "- cache hits: 1,000 (5.0%; low below 10%)" in text
    assert "- reasoning cost in the window: 6.40 USD" in text  # 800k x 8.00 / 1M
    assert 'increase(genai_requests_total{cache="hit"}[86400s])' in text
    assert "@" not in text


@pytest.mark.binaries
def test_csv_report_has_one_row_per_recommendation(prometheus: Prometheus, tmp_path: Path) -> None:
    out = tmp_path / "savings.csv"
    result = run_cli(*_args(prometheus, "--format", "csv", "--out", str(out)))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert [(r["kind"], r["team"], r["app"], r["model"], r["monthly_saving_usd"]) for r in rows] == [
        ("cheaper_tier", "search", "search-api", "gpt-4o", "881.25"),
        ("batch", "analytics", "nightly-batch", "", "600.00"),
        ("cache", "support", "zendesk-assist", "", "300.00"),
        ("reasoning", "search", "", "o3", "144.00"),
    ]
    assert all(r["evidence"] and "increase(" in r["queries"] for r in rows)


@pytest.mark.binaries
def test_a_window_without_data_is_a_clear_error_and_no_file(prometheus: Prometheus, tmp_path: Path) -> None:
    out = tmp_path / "savings.md"
    result = run_cli("savings", "--prometheus", prometheus.url, "--spec", str(SPEC_FILE), "--end", "2020-01-01",
                     "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith("error: no gatewatch data between 2019-12-02T00:00:00Z and 2020-01-01T00:00:00Z")
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_an_unreachable_prometheus_is_a_clear_error_and_no_file(tmp_path: Path) -> None:
    out = tmp_path / "savings.md"
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli("savings", "--prometheus", url, "--spec", str(SPEC_FILE), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr == f"error: cannot reach Prometheus at {url}: connection refused\n"
    assert not out.exists()


# ---- the rules' thresholds, on hand-built usage ------------------------------------------------

ONE_DAY = Window(START, END)


def usage(*, requests: float = 10_000, hits: float = 5_000, short_share: float = 0.95, output: float = 2e6,
          reasoning: float = 0.0, cost: float = 31.25, saved: float = 3.0, app: str = "search-api",
          team: str = "search", model: str = "gpt-4o") -> Usage:
    """One app's day, search-api's numbers unless told otherwise."""
    return Usage(
        requests={(team, app, model): requests},
        tokens={(team, app, model, "input"): 5e6, (team, app, model, "cached_input"): 1e6,
                (team, app, model, "output"): output, (team, app, model, "reasoning"): reasoning},
        cost={(team, app, model): cost},
        hits={(team, app): hits},
        cache_saved={(team, app): saved},
        short_prompts={(team, model): short_share * requests},
        prompts={(team, model): requests},
        queries=savings.usage_queries(ONE_DAY),
    )


Rule = Callable[[spec.Spec, Usage, Window], Iterable[savings.Recommendation]]

CASES: list[tuple[str, Rule, Usage, float | None]] = [
    ("short prompts and outputs on premium", savings.cheaper_tier, usage(), 881.25),
    ("exactly 90 % short prompts still counts", savings.cheaper_tier, usage(short_share=0.9), 881.25),
    ("89 % short prompts is not enough", savings.cheaper_tier, usage(short_share=0.89), None),
    ("500 output tokens a request is short", savings.cheaper_tier, usage(output=5e6), 30 * (31.25 - 3.675)),
    ("501 output tokens a request is not", savings.cheaper_tier, usage(output=5.01e6), None),
    ("an economy model has no cheaper tier", savings.cheaper_tier, usage(model="gpt-4o-mini"), None),
    ("a model alone in its family has none", savings.cheaper_tier, usage(model="o3"), None),
    ("a saving under 10 USD a month is left out", savings.cheaper_tier, usage(cost=2.2), None),
    ("9.9 % hits on 1,000 a day", savings.cache, usage(requests=1_000, hits=99, saved=9.9),
     30 * (0.30 - 0.099) * 1_000 * 0.1),
    ("10 % hits is not low", savings.cache, usage(requests=1_000, hits=100, saved=0.1), None),
    ("999 a day is not high volume", savings.cache, usage(requests=999, hits=50, saved=50.0), None),
    ("no hits anywhere: nothing to value a hit with", savings.cache, usage(hits=0, saved=0.0), None),
    ("non-interactive at 1,000 a day", savings.batch,
     usage(app="nightly-batch", team="analytics", requests=1_000, cost=40.0), 600.0),
    ("non-interactive at 999 a day", savings.batch,
     usage(app="nightly-batch", team="analytics", requests=999, cost=40.0), None),
    ("interactive apps never", savings.batch, usage(cost=40.0), None),
    ("reasoning 80 % of output", savings.reasoning, usage(model="o3", output=1e6, reasoning=8e5), 144.0),
    ("reasoning at 49 % is fine", savings.reasoning, usage(model="o3", output=1e6, reasoning=4.9e5), None),
    ("a model without a price is skipped", savings.reasoning, usage(model="mystery", output=1e6, reasoning=9e5),
     None),
]


@pytest.mark.parametrize(("case", "rule", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule_thresholds(case: str, rule: Rule, data: Usage, expected: float | None) -> None:
    found = list(rule(SPEC, data, ONE_DAY))
    if expected is None:
        assert found == [], case
    else:
        assert [r.monthly_saving_usd for r in found] == [pytest.approx(expected, rel=1e-9)], case


def test_cache_without_own_hits_values_a_hit_at_the_fleet_average() -> None:
    data = replace(
        usage(app="zendesk-assist", team="support", requests=2_000, hits=0, saved=0.0),
        hits={("support", "zendesk-assist"): 0.0, ("search", "search-api"): 500.0},
        cache_saved={("search", "search-api"): 2.0},
    )
    (found,) = savings.cache(SPEC, data, ONE_DAY)
    # 2.0 USD / 500 hits = 0.004 a hit; 30 % of 2,000 = 600 hits a day, x 30 days.
    assert found.monthly_saving_usd == pytest.approx(600 * 0.004 * 30)
    assert ("saved per hit", "0.004000 USD, from all apps' hits (this app has none)") in found.evidence


def test_cheaper_model_is_the_nearest_tier_down() -> None:
    assert savings.cheaper_model(SPEC, SPEC.model("claude-sonnet-4")).name == "claude-haiku-3-5"
    assert savings.cheaper_model(SPEC, SPEC.model("gemini-2.5-pro")).name == "gemini-2.5-flash"
    assert savings.cheaper_model(SPEC, SPEC.model("gpt-4o-mini")) is None


def test_a_report_without_recommendations_says_so_and_lists_the_thresholds() -> None:
    text = savings.markdown([], ONE_DAY, "http://prometheus:9090")
    assert "No recommendation: no traffic met a threshold" in text
    assert "high volume from 1,000 requests a day" in text
    assert "Window: 2026-10-14T00:00:00Z to 2026-10-15T00:00:00Z (1 day)" in text
    assert savings.csv_text([]) == ",".join(savings.CSV_COLUMNS) + "\n"
