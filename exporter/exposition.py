"""Prometheus text exposition format 0.0.4: escaping, number formatting and line templates.

Rendering 100k lines must take well under a scrape interval, so each metric's sample lines are
compiled once into ``%`` templates: one ``template % values`` call per counter series and one
per histogram series replaces per-line string building.
"""

from __future__ import annotations

from contract.catalog import Metric, MetricType
from contract.promql import format_le

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LABEL_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_HELP_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n"})


def needs_escaping(values: tuple[str, ...]) -> bool:
    joined = "".join(values)
    return "\\" in joined or '"' in joined or "\n" in joined


def escape_label_value(value: str) -> str:
    return value.translate(_LABEL_ESCAPES)


def escape_help(text: str) -> str:
    return text.translate(_HELP_ESCAPES)


def header(metric: Metric) -> str:
    return f"# HELP {metric.name} {escape_help(metric.help)}\n# TYPE {metric.name} {metric.type}\n"


def _pct(text: str) -> str:
    return text.replace("%", "%%")


def labels_template(names: tuple[str, ...], constants: tuple[tuple[str, str], ...] = ()) -> str:
    """``a="%s",b="%s"`` plus constant pairs, for ``template % values`` (no braces)."""
    parts = [f'{name}="%s"' for name in names]
    parts += [f'{name}="{_pct(escape_label_value(value))}"' for name, value in constants]
    return ",".join(parts)


def sample_template(name: str, names: tuple[str, ...], constants: tuple[tuple[str, str], ...] = ()) -> str:
    """One sample line: ``name{a="%s",...} %s\\n`` taking the label values then the value."""
    labels = labels_template(names, constants)
    return f"{name}{{{labels}}} %s\n" if labels else f"{name} %s\n"


def histogram_template(metric: Metric) -> str:
    """All lines of one histogram series as one ``%`` template.

    It takes, interleaved: for each bucket (``+Inf`` last) the bucket label prefix (the series'
    labels plus a comma, or nothing) and the cumulative count; then the braced label set (or
    nothing) and the sum; then the braced label set and the count.
    """
    if metric.type is not MetricType.HISTOGRAM:
        raise ValueError(f"{metric.name} is not a histogram")
    les = [format_le(b) for b in metric.buckets] + ["+Inf"]
    name = metric.name
    buckets = "".join(f'{name}_bucket{{%sle="{le}"}} %d\n' for le in les)
    return f"{buckets}{name}_sum%s %r\n{name}_count%s %d\n"
