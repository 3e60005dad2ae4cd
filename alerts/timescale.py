"""Compress time in rendered Prometheus rule files, so hour- and day-long windows play out in seconds.

``compress(files, factor)`` divides EVERY duration in the rule files by one uniform factor:
range selectors (``[1h]``), subquery ranges and steps (``[1d:5m]``), ``offset``, a rule's
``for`` and ``keep_firing_for``, and a group's ``interval`` and ``query_offset``. Expressions,
thresholds, labels and annotations stay exactly as they were. Drills and the dashboard data test
use it to see the hourly recording group and the long SLO windows evaluate within a minute.

Durations round to whole seconds (never below 1s; a zero stays zero), so a factor that would
shrink ``[5m]`` under the scrape interval leaves windows with too few samples to ``rate``: keep
``factor`` at most ``5m / scrape interval``.

What does NOT scale, because it is not a duration literal:

* ``time()``-based arithmetic -- "seconds left in the budget period", ``month()``,
  ``year()``, the hour-midpoint ``time() - 1800`` -- reads the real clock, so month-to-date
  labels, period projections and budget-period bounds stay in real time;
* numbers that turn a per-second rate into a per-hour or per-minute figure (``* 3600``,
  ``5 * 60 * ...``): rates stay per real second, only their windows shrink;
* durations written in annotation prose ("for 15 minutes").

Expressions are rewritten as text (only the duration tokens change, so formatting and comments
survive) and then checked with a real parser (promql-parser): the rewritten expression must
have the same tree with every duration divided, or ``compress`` raises ``ValueError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import promql_parser
import yaml

from alerts.yamlout import dump

# A Prometheus duration literal such as 1h30m or 500ms (ms before m, so "5ms" is not 5 minutes).
_DURATION = r"(?:\d+(?:ms|[smhdwy]))+"
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "y": 31_536_000}
_FORMAT_UNITS = (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1))

# Comments and strings are matched first, so a "[5m]" inside a label value is never touched.
_TOKENS = re.compile(
    r"(?P<comment>\#[^\n]*)"
    r"|(?P<string>\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`[^`]*`)"
    r"|(?P<bracket>\[[^\]]*\])"
    rf"|(?P<offset>(?<![\w:])(?i:offset)(?![\w:])\s*-?\s*)(?P<shift>{_DURATION})"
)
_BRACKET = re.compile(rf"\[(\s*)({_DURATION})(\s*)(?::(\s*)({_DURATION})?(\s*))?\]")

# Rule-file fields that hold a duration, per level.
_GROUP_DURATIONS = ("interval", "query_offset")
_RULE_DURATIONS = ("for", "keep_firing_for")


def seconds(duration: str) -> float:
    """``"1h30m"`` -> 5400.0."""
    if not re.fullmatch(_DURATION, duration):
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in re.findall(r"(\d+)(ms|[smhdwy])", duration))


def scaled_seconds(value: float, factor: float) -> int:
    """``value`` seconds divided by ``factor``, rounded half up to whole seconds, at least 1s
    (0 stays 0, a negative offset keeps its sign)."""
    if value == 0:
        return 0
    shrunk = max(1, math.floor(abs(value) / factor + 0.5))
    return shrunk if value > 0 else -shrunk


def format_duration(total: int) -> str:
    """Whole seconds as a Prometheus duration: 10080 -> ``2h48m``, 0 -> ``0s`` (days at most)."""
    if total == 0:
        return "0s"
    parts = []
    for unit, size in _FORMAT_UNITS:
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def scale_duration(duration: str, factor: float) -> str:
    """``duration`` divided by ``factor``; written as it was when the value does not change."""
    before = seconds(duration)
    after = scaled_seconds(before, factor)
    return duration if after == before else format_duration(after)


def _scale_bracket(text: str, factor: float) -> str:
    found = _BRACKET.fullmatch(text)
    if found is None:
        raise ValueError(f"cannot read the range or subquery {text!r}")
    lead, window, gap, step_lead, step, tail = found.groups()
    scaled = f"[{lead}{scale_duration(window, factor)}{gap}"
    if found.group(4) is None:
        return scaled + "]"
    return scaled + f":{step_lead}{scale_duration(step, factor) if step else ''}{tail}]"


def rewrite_expr(expr: str, factor: float) -> str:
    """``expr`` with every range, subquery range and step, and offset divided by ``factor``."""

    def replace(token: re.Match[str]) -> str:
        if token.group("bracket"):
            return _scale_bracket(token.group("bracket"), factor)
        if token.group("shift"):
            return token.group("offset") + scale_duration(token.group("shift"), factor)
        return token.group(0)

    return _TOKENS.sub(replace, expr)


Signature = list[tuple[str, tuple[float | None, ...]]]


def _durations(node: Any) -> tuple[float | None, ...]:
    def secs(value: timedelta | None) -> float | None:
        return None if value is None else value.total_seconds()

    kind = type(node).__name__
    if kind == "MatrixSelector":
        return (secs(node.range),)
    if kind == "SubqueryExpr":
        return secs(node.range), secs(node.step), secs(node.offset)
    if kind == "VectorSelector":
        return (secs(node.offset),)
    return ()


def signature(expr: str, scale: Callable[[float], float] = float) -> Signature:
    """Every node of the parsed ``expr`` in walk order with its durations passed through ``scale``."""
    nodes: Signature = []

    def visit(node: Any) -> None:
        durations = tuple(None if d is None else scale(d) for d in _durations(node))
        nodes.append((type(node).__name__, durations))

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return nodes


def compress_expr(expr: str, factor: float) -> str:
    """``rewrite_expr``, proven by the parser: same tree, every duration divided, none missed."""
    rewritten = rewrite_expr(expr, factor)
    expected = signature(expr, lambda d: float(scaled_seconds(d, factor)))
    if signature(rewritten) != expected:
        raise ValueError(f"time-scaling changed more than durations (or missed one) in:\n{expr}")
    return rewritten


def _scale_fields(entry: dict[str, Any], fields: tuple[str, ...], factor: float) -> None:
    for field in fields:
        if field in entry:
            entry[field] = scale_duration(str(entry[field]), factor)


def compress_rule_file(text: str, factor: float) -> str:
    data = yaml.safe_load(text)
    for group in (data or {}).get("groups") or ():
        _scale_fields(group, _GROUP_DURATIONS, factor)
        for rule in group.get("rules") or ():
            rule["expr"] = compress_expr(str(rule["expr"]), factor)
            _scale_fields(rule, _RULE_DURATIONS, factor)
    return dump(data)


def compress(files: Mapping[str, str], factor: float) -> dict[str, str]:
    """Rule files (path -> YAML text) with every duration divided by ``factor`` (> 0)."""
    if not factor > 0 or math.isinf(factor):
        raise ValueError(f"the time-scale factor must be a positive number, got {factor!r}")
    return {path: compress_rule_file(text, factor) for path, text in files.items()}
