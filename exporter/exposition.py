"""Prometheus text exposition format 0.0.4: escaping, number formatting and line templates.

Rendering 100k lines must take well under a scrape interval, so each metric's sample lines are
compiled once into ``%`` templates: one ``template % values`` call per counter series and one
per histogram series replaces per-line string building.
"""

from __future__ import annotations

import math

from exporter.catalog import Metric, MetricType

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LABEL_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_HELP_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n"})


def needs_escaping(values: tuple[str, ...]) -> bool:
    return any("\\" in v or '"' in v or "\n" in v for v in values)


def escape_label_value(value: str) -> str:
    return value.translate(_LABEL_ESCAPES)


def escape_help(text: str) -> str:
    return text.translate(_HELP_ESCAPES)


def format_value(value: float) -> str:
    """A sample value as Prometheus parses it (``repr`` already is, except for non-finite values)."""
    if math.isfinite(value):
        return repr(value)
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def format_le(bound: float) -> str:
    """A bucket bound as prometheus_client prints it (``0.05``, ``1.0``, ``1.048576e+06``).

    Prometheus 2 matches ``le`` as a string, so rules that select a bucket (``le="4.0"``) must be
    written against exactly this spelling.
    """
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    text = repr(float(bound))
    dot = text.find(".")
    if bound > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return text


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


def histogram_templates(metric: Metric) -> tuple[str, str, tuple[str, ...]]:
    """(label template, prefix of each bucket line, suffixes ``,le="x"} ``) for one histogram.

    A bucket line is ``prefix + labels + suffix + count``; ``_sum``/``_count`` lines follow.
    """
    assert metric.type is MetricType.HISTOGRAM
    les = [format_le(b) for b in metric.buckets] + ["+Inf"]
    labels = labels_template(metric.labels)
    sep = "," if labels else ""
    return labels, f"{metric.name}_bucket{{", tuple(f'{sep}le="{le}"}} ' for le in les)
