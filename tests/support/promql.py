"""What a PromQL expression reads, found with a real parser (promql-parser), not regexes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import promql_parser

# Series that Prometheus and Alertmanager expose about themselves, which rules may read.
OWN_SERIES_PREFIXES = ("prometheus_", "alertmanager_")
OWN_SERIES = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_samples_scraped", "scrape_series_added"})


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for attribute in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, str | int | float):
            yield from _walk(child)
    for child in getattr(node, "args", None) or ():
        yield from _walk(child)


_EQUAL = promql_parser.MatchOp.Equal


def selected_names(expr: str) -> set[str]:
    """The metric names every series selector in ``expr`` names (``{__name__="x"}`` included).

    Raises ValueError when the expression does not parse, or a selector names no metric.
    """
    tree = promql_parser.parse(expr)
    names: set[str] = set()
    for node in _walk(tree):
        if type(node).__name__ != "VectorSelector":
            continue
        name = node.name
        if not name:
            found = [m.value for m in node.matchers.matchers if m.name == "__name__" and m.op == _EQUAL]
            if not found:
                raise ValueError(f"a selector without a metric name in {expr!r}")
            name = found[0]
        names.add(name)
    return names


def is_own_series(name: str) -> bool:
    return name in OWN_SERIES or name.startswith(OWN_SERIES_PREFIXES)


def vector_selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(metric name, equality matchers) of every series selector in ``expr``."""
    found = []
    for node in _walk(promql_parser.parse(expr)):
        if type(node).__name__ == "VectorSelector":
            matchers = {m.name: m.value for m in node.matchers.matchers if m.op == _EQUAL}
            found.append((node.name, matchers))
    return found
