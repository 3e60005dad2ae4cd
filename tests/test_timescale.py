"""alerts.timescale: every duration in the rule files divided by one factor, nothing else touched."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from alerts import prometheus_rules
from alerts.timescale import compress, compress_expr, format_duration, scaled_seconds
from contract.spec import load
from tests.paths import EXAMPLE_SPEC
from tests.support.binaries import require

RULE_FILES = prometheus_rules.render(load(EXAMPLE_SPEC))
RULES_ONLY = {p: t for p, t in RULE_FILES.items() if p.startswith("prometheus/rules/")}


@pytest.mark.parametrize(("expr", "factor", "expected"), [
    ("rate(x[5m])", 60, "rate(x[5s])"),
    ("x offset 1w", 60, "x offset 2h48m"),                        # 604800 / 60 = 10080 s
    ("x offset -1h", 60, "x offset -1m"),
    ("x OFFSET 1d", 60, "x OFFSET 24m"),
    ("rate(x[5m] offset 1w)", 60, "rate(x[5s] offset 2h48m)"),
    ("max_over_time(rate(x[5m])[1d:5m])", 60, "max_over_time(rate(x[5s])[24m:5s])"),
    ("max_over_time(x[1h:])", 60, "max_over_time(x[1m:])"),
    ("max_over_time(x[ 1h : 10m ])", 60, "max_over_time(x[ 1m : 10s ])"),
    ("avg_over_time(x[1d] offset 1h)", 60, "avg_over_time(x[24m] offset 1m)"),
    ("rate(x[1h30m])", 60, "rate(x[1m30s])"),
    ("rate(x[31d])", 60, "rate(x[12h24m])"),                      # 2678400 / 60 = 44640 s
    ("rate(x[2w])", 1, "rate(x[2w])"),                            # unchanged value, unchanged text
    ("rate(x[2w])", 2, "rate(x[7d])"),
    # Rounding: half up to whole seconds, never below 1s.
    ("rate(x[90s])", 60, "rate(x[2s])"),                          # 1.5 -> 2
    ("rate(x[5m])", 7, "rate(x[43s])"),                           # 42.86 -> 43
    ("rate(x[1m])", 120, "rate(x[1s])"),                          # 0.5 -> 1
    ("rate(x[500ms])", 60, "rate(x[1s])"),                        # never below 1s
    ("rate(x[1m])", 600, "rate(x[1s])"),
    # What is not a duration literal stays: strings, comments, names, numbers, time().
    ('rate(x{path="[5m] offset 1w"}[10m])', 60, 'rate(x{path="[5m] offset 1w"}[10s])'),
    ("rate(x{path=~'a[0-9]'}[10m])", 60, "rate(x{path=~'a[0-9]'}[10s])"),
    ("rate(x[5m]) # was [1h]\n* 3600", 60, "rate(x[5s]) # was [1h]\n* 3600"),
    ("team:genai_cost_usd:rate1h offset 1w", 60, "team:genai_cost_usd:rate1h offset 2h48m"),
    ("sum by (offset) (rate(my_offset[5m]))", 60, "sum by (offset) (rate(my_offset[5s]))"),
    ("year(vector(time() - 1800)) * 100 + month()", 60, "year(vector(time() - 1800)) * 100 + month()"),
    ("5 * 60 * avg_over_time(x[1d] offset 1h) > 3600", 60, "5 * 60 * avg_over_time(x[24m] offset 1m) > 3600"),
    ("x @ 1700000000", 60, "x @ 1700000000"),
])
def test_expression_durations_divide_and_nothing_else_moves(expr: str, factor: float, expected: str) -> None:
    assert compress_expr(expr, factor) == expected


@pytest.mark.parametrize(("seconds", "factor", "expected"), [
    (3600, 60, 60), (604_800, 60, 10_080), (7200, 120, 60), (90, 60, 2), (30, 60, 1), (1, 60, 1),
    (0, 60, 0), (-3600, 60, -60), (-10, 60, -1),
])
def test_scaled_seconds(seconds: float, factor: float, expected: int) -> None:
    assert scaled_seconds(seconds, factor) == expected


@pytest.mark.parametrize(("total", "text"), [
    (0, "0s"), (5, "5s"), (60, "1m"), (90, "1m30s"), (10_080, "2h48m"), (86_400, "1d"), (604_800, "7d"),
    (694_861, "8d1h1m1s"),
])
def test_format_duration(total: int, text: str) -> None:
    assert format_duration(total) == text


RULE_FILE = """\
groups:
- name: hourly
  interval: 1h
  query_offset: 2m
  rules:
  - record: team:x:increase1h
    expr: sum by (team) (increase(x_total[1h]))
- name: alerts
  rules:
  - alert: Slow
    expr: rate(x_total[5m]) > 3
    for: 2h
    keep_firing_for: 10m
    labels:
      severity: warning
      window: 5m
    annotations:
      summary: above 3 for 2h
"""

COMPRESSED_BY_120 = """\
groups:
- name: hourly
  interval: 30s
  query_offset: 1s
  rules:
  - record: team:x:increase1h
    expr: sum by (team) (increase(x_total[30s]))
- name: alerts
  rules:
  - alert: Slow
    expr: rate(x_total[3s]) > 3
    for: 1m
    keep_firing_for: 5s
    labels:
      severity: warning
      window: 5m
    annotations:
      summary: above 3 for 2h
"""


def test_rule_file_fields_scale_and_labels_and_annotations_do_not() -> None:
    assert compress({"r.yml": RULE_FILE}, 120) == {"r.yml": COMPRESSED_BY_120}


@pytest.mark.parametrize("factor", [0, -60, float("nan"), float("inf")])
def test_factor_must_be_positive(factor: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        compress({"r.yml": RULE_FILE}, factor)


def test_a_range_that_is_not_a_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot read"):
        compress_expr("rate(x[$__rate_interval])", 60)


def test_factor_one_reproduces_the_generated_rule_files_byte_for_byte() -> None:
    assert compress(RULES_ONLY, 1) == RULES_ONLY


# A duration literal as a token of its own (not the "1h" of a name like rate1h).
_LITERAL = re.compile(r"(?<![\w:])\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*(?![\w:])")


def _masked(data: object) -> object:
    if isinstance(data, dict):
        return {k: _masked(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_masked(v) for v in data]
    return _LITERAL.sub("D", data) if isinstance(data, str) else data


def test_on_the_generated_rules_only_duration_literals_change() -> None:
    compressed = compress(RULES_ONLY, 60)
    for path, text in RULES_ONLY.items():
        before, after = yaml.safe_load(text), yaml.safe_load(compressed[path])
        assert _masked(after) == _masked(before), path
        # Labels and annotations are byte-identical (their prose may name durations).
        for old_group, new_group in zip(before["groups"], after["groups"], strict=True):
            for old, new in zip(old_group["rules"], new_group["rules"], strict=True):
                assert new.get("labels") == old.get("labels")
                assert new.get("annotations") == old.get("annotations")
    recording = yaml.safe_load(compressed["prometheus/rules/gatewatch-recording.yml"])
    hourly = next(g for g in recording["groups"] if g["name"] == "gatewatch-cost-hourly")
    assert hourly["interval"] == "1m"
    assert "increase(genai_cost_usd_total[1m])" in hourly["rules"][0]["expr"]
    alerts = compressed["prometheus/rules/gatewatch-alerts.yml"]
    assert "offset 1w" not in alerts and "offset 2h48m" in alerts
    assert "[1d]" not in alerts and "[24m]" in alerts


@pytest.mark.binaries
def test_compressed_rules_pass_promtool_check_rules(tmp_path: Path) -> None:
    paths = []
    for path, text in compress(RULES_ONLY, 60).items():
        target = tmp_path / Path(path).name
        target.write_text(text)
        paths.append(str(target))
    run = subprocess.run([require("promtool"), "check", "rules", *paths], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
