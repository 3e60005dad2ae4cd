"""The signals layer: recording rules, month-to-date spend proven with the real promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts import cost, recording, slo
from alerts.model import RuleGroup, UnitTest
from alerts.render import rule_file, unit_test_file
from alerts.yamlout import dump
from contract import catalog
from contract.burnrate import RATIO_WINDOWS
from contract.spec import Spec, load
from tests.paths import EXAMPLE_SPEC
from tests.support.binaries import require
from tests.support.promql import is_own_series, selected_names

SPEC = load(EXAMPLE_SPEC)
pytestmark = pytest.mark.binaries


def my_groups(spec: Spec) -> tuple[RuleGroup, ...]:
    return (*recording.groups(spec), *slo.groups(spec), *cost.groups(spec))


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require("promtool"), *map(str, args)], capture_output=True, text=True, check=False)


def run_promtool_tests(
    tmp_path: Path, spec: Spec, tests: tuple[UnitTest, ...] | dict[str, Any], interval: str = "1m"
) -> None:
    """Write the rule file and a test file (generated cases, or a hand-written test dict) and run
    ``promtool test rules``. Groups are evaluated in composition order (recording rules first):
    otherwise promtool picks a random order and an alert may see its inputs one cycle late."""
    groups = my_groups(spec)
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "rules" / "gatewatch.yml").write_text(dump(rule_file(spec, groups)))
    rule_files = ["../rules/gatewatch.yml"]
    if isinstance(tests, dict):
        document = {"rule_files": rule_files, "evaluation_interval": interval, "tests": [tests]}
    else:
        document = unit_test_file(rule_files, tests, interval)
    document["group_eval_order"] = [g.name for g in groups]
    test_file = tmp_path / "tests" / "gatewatch.test.yml"
    test_file.write_text(dump(document))
    run = promtool("test", "rules", test_file)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_every_expression_parses_and_names_only_known_series() -> None:
    recorded = {r.record for g in recording.groups(SPEC) for r in g.rules if hasattr(r, "record")}
    known = catalog.series_names() | recorded
    for group in my_groups(SPEC):
        for rule in group.rules:
            for name in selected_names(rule.expr):
                assert name in known or is_own_series(name), (group.name, name)


def test_the_names_other_modules_read_are_recorded() -> None:
    recorded = {r.record for g in recording.groups(SPEC) for r in g.rules}
    assert {
        "team_model_provider:genai_requests:rate5m", "team_model_provider_outcome:genai_requests:rate5m",
        "provider:genai_requests:rate5m", "provider:genai_requests_bad:rate5m", "team:genai_cost_usd:rate5m",
        "team:genai_cost_usd:rate30m", "team:genai_cost_usd:rate1h", "team_app:genai_cost_usd:rate1h",
        "team_app:genai_requests:rate5m",
        "team_app:genai_requests:rate1h", "team_app:genai_requests_forwarded:rate5m",
        "team_app:genai_requests_forwarded:rate1h", "model_provider:genai_request_duration_seconds:p50_5m",
        "model_provider:genai_request_duration_seconds:p95_5m", "model_provider:genai_request_duration_seconds:p99_5m",
        "model_provider:genai_time_to_first_token_seconds:p95_5m", "slo:sli_requests:rate5m", "slo:sli_errors:rate5m",
        "team:genai_cost_usd:increase1h", "team:genai_cost_usd:month_to_date",
        *(f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")),
    } <= recorded


def test_groups_stay_small_and_the_hourly_one_runs_hourly() -> None:
    groups = recording.groups(SPEC)
    assert all(len(g.rules) <= 20 for g in groups)
    hourly = [g for g in groups if g.interval]
    assert [(g.interval, [r.record for r in g.rules]) for g in hourly] == [("1h", ["team:genai_cost_usd:increase1h"])]


def test_bad_outcomes_are_the_catalogs() -> None:
    bad = next(r for g in recording.groups(SPEC) for r in g.rules if r.record == "provider:genai_requests_bad:rate5m")
    assert bad.expr == (
        'sum by (provider) (rate(genai_requests_total{outcome=~"provider_error|gateway_error|timeout|rate_limited"}'
        "[5m]))"
    )


def test_forwarded_requests_leave_out_what_the_gateway_stopped() -> None:
    forwarded = next(r for g in recording.groups(SPEC) for r in g.rules
                     if r.record == "team_app:genai_requests_forwarded:rate5m")
    assert forwarded.expr == (
        'sum by (team, app) (rate(genai_requests_total{outcome!~"guardrail_blocked|quota_exceeded"}[5m]))'
    )


@pytest.mark.parametrize(("window", "expr"), [
    ("5m", "slo:sli_errors:rate5m / slo:sli_requests:rate5m"),
    ("30m", "sum_over_time(slo:sli_errors:rate5m[30m])\n/ sum_over_time(slo:sli_requests:rate5m[30m])"),
    ("3d", "sum_over_time(slo:sli_errors:rate5m[3d])\n/ sum_over_time(slo:sli_requests:rate5m[3d])"),
])
def test_long_window_ratios_are_summed_errors_over_summed_requests(window: str, expr: str) -> None:
    ratios = {r.record: r.expr for r in recording.ratio_rules()}
    assert len(ratios) == len(RATIO_WINDOWS)
    assert ratios[f"slo:sli_error:ratio_rate{window}"] == expr


def test_availability_sli_excludes_neutral_outcomes_and_counts_bad_ones() -> None:
    objective = next(o for o in SPEC.slos.objectives if o.name == "openai-availability")
    requests, errors, hourly = recording.sli_rules(SPEC, objective)
    assert requests.expr == (
        'sum(rate(genai_requests_total{provider="openai", outcome!~"client_error|quota_exceeded|guardrail_blocked"}'
        "[5m]))"
    )
    assert errors.expr == (
        'sum(rate(genai_requests_total{provider="openai", outcome=~"provider_error|gateway_error|timeout|rate_limited"}'
        "[5m])) or vector(0)"
    )
    assert hourly.record == "slo:sli_requests:rate1h" and "[1h]" in hourly.expr
    assert requests.labels == errors.labels == {"slo": "openai-availability", "provider": "openai"}


def test_ttft_sli_counts_requests_slower_than_the_threshold_bucket_as_the_exporter_spells_it() -> None:
    objective = next(o for o in SPEC.slos.objectives if o.name == "claude-sonnet-ttft")
    _, errors, _ = recording.sli_rules(SPEC, objective)
    # The exporter renders the 2 s bound as le="2.0" (exporter/exposition.py format_le).
    assert errors.expr == (
        '(\n  sum(rate(genai_time_to_first_token_seconds_count{model="claude-sonnet-4"}[5m]))\n'
        '  - sum(rate(genai_time_to_first_token_seconds_bucket{model="claude-sonnet-4", le="2.0"}[5m]))\n'
        ") or vector(0)"
    )
    assert errors.labels == {"slo": "claude-sonnet-ttft", "provider": "anthropic", "model": "claude-sonnet-4"}



def _cost(instance: str, values: str) -> dict[str, str]:
    return {"series": f'genai_cost_usd_total{{team="search", app="search-api", model="gpt-4o", provider="openai", '
                      f'instance="{instance}"}}', "values": values}


def test_month_to_date_spans_a_month_boundary_a_restart_and_two_replicas(tmp_path: Path) -> None:
    # Sampled every 15m. Replica a spends 1 USD a quarter (4/h); replica b 2 a quarter (8/h) and
    # restarts at hour 740 (quarter 2960), its counter starting again at 2. Together 12 USD/h.
    # promtool's clock starts on 1970-01-01; February begins at hour 744.
    restart = 740 * 4
    test = {
        "interval": "15m",
        "input_series": [
            _cost("a:9464", "0+1x2990"),
            _cost("b:9464", f"0+2x{restart} 2+2x{2990 - restart - 1}"),
        ],
        "promql_expr_test": [
            # January: 743 whole hours of 12 USD, the restart costing nothing.
            {"expr": "team:genai_cost_usd:month_to_date", "eval_time": "743h",
             "exp_samples": [{"labels": 'team:genai_cost_usd:month_to_date{team="search"}', "value": 8916}]},
            # The hour ending at midnight on the 1st is January's ...
            {"expr": "team:genai_cost_usd:increase1h", "eval_time": "744h",
             "exp_samples": [{"labels": 'team:genai_cost_usd:increase1h{team="search", month="197001"}',
                              "value": 12}]},
            # ... so February has no spend yet at midnight,
            {"expr": "team:genai_cost_usd:month_to_date", "eval_time": "744h", "exp_samples": []},
            # and counts from its first hour on.
            {"expr": "team:genai_cost_usd:increase1h", "eval_time": "745h",
             "exp_samples": [{"labels": 'team:genai_cost_usd:increase1h{team="search", month="197002"}',
                              "value": 12}]},
            {"expr": "team:genai_cost_usd:month_to_date", "eval_time": "746h",
             "exp_samples": [{"labels": 'team:genai_cost_usd:month_to_date{team="search"}', "value": 24}]},
        ],
    }
    run_promtool_tests(tmp_path, SPEC, test, interval=recording.HOURLY_INTERVAL)


def test_rule_files_pass_promtool_check_with_lint(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(dump(rule_file(SPEC, my_groups(SPEC))))
    run = promtool("check", "rules", "--lint=all", "--lint-fatal", path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert yaml.safe_load(path.read_text())["groups"]
