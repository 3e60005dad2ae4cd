"""The one spelling of each PromQL fragment that states a contract fact: quoting, literal
alternations, and the outcome and sentinel-team matchers.

A label matcher's value is a double-quoted string both in PromQL (Go string escapes) and in an
Alertmanager matcher (which reads ``\\\\``, ``\\"`` and ``\\n`` as escapes and keeps any other
backslash literally). Quoting with doubled backslashes is right for both, so one escaper serves
rules, dashboards, reports and the routing tree; a bare ``re.escape`` is not (its ``\\-`` is an
invalid escape in a PromQL string).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from contract.catalog import BAD_OUTCOMES, NEUTRAL_OUTCOMES, SENTINEL_TEAMS, STOPPED_AT_GATEWAY

# RE2 metacharacters (PromQL and Alertmanager both use Go's regexp).
_REGEX_SPECIAL = re.compile(r"([.^$*+?()\[\]{}|\\])")


def number(value: float) -> str:
    """A float as PromQL and people read it: 14.4 * 0.005 is 0.072, not 0.07200000000000001."""
    return repr(round(value, 12))


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
    value = float(bound)
    if not math.isfinite(value):
        return format_value(value)
    text = repr(value)
    dot = text.find(".")
    if value > 0 and dot > 6:  # Go switches to an exponent from seven integer digits on
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def quoted(value: str) -> str:
    """``value`` as the body of a double-quoted PromQL string or Alertmanager matcher value."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def literal_alternation(values: Iterable[str]) -> str:
    """A regex matching exactly ``values`` (both anchor it), as a quoted-string body."""
    return quoted("|".join(_REGEX_SPECIAL.sub(r"\\\1", v) for v in values))


def equals(label: str, value: str) -> str:
    return f'{label}="{quoted(value)}"'


def matches(label: str, values: Iterable[str]) -> str:
    return f'{label}=~"{literal_alternation(values)}"'


def excludes(label: str, values: Iterable[str]) -> str:
    return f'{label}!~"{literal_alternation(values)}"'


# Requests an availability SLO counts as errors.
BAD_OUTCOME = matches("outcome", BAD_OUTCOMES)
# Requests an availability SLO counts at all: caller and policy outcomes are neither good nor bad.
COUNTED_OUTCOME = excludes("outcome", NEUTRAL_OUTCOMES)
# Requests the gateway let through to a provider.
FORWARDED_OUTCOME = excludes("outcome", STOPPED_AT_GATEWAY)


def sentinel(label: str) -> str:
    """``label`` (team or app) is one nobody owns: ``__unassigned__`` or ``__other__``."""
    return matches(label, SENTINEL_TEAMS)


def named(label: str) -> str:
    """``label`` (team or app) is a real name, not a sentinel."""
    return excludes(label, SENTINEL_TEAMS)
