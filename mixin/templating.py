"""Turn generated strings into jsonnet format strings: the exporter's series selectors and the
spec's base URLs become ``%(name)s`` placeholders that the mixin fills from its ``_config``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from alerts.prometheus_config import EXPORTER_JOB
from contract import catalog

# Placeholders mixin.libsonnet fills (keys of its derived config).
SELECTOR_BRACES = "%(gatewatchSelectorBraces)s"  # '' or '{<selector>}', after a bare series name
SELECTOR_PREFIX = "%(gatewatchSelectorPrefix)s"  # '' or '<selector>, ', right after '{'
JOB = "%(exporterJob)s"
RUNBOOK_BASE = "%(runbookURLBase)s"
DASHBOARD_BASE = "%(dashboardURLBase)s"


def exporter_series() -> tuple[str, ...]:
    """Every sample name the exporter exposes: the selectors the mixin's selector is added to."""
    return tuple(sorted({name for metric in catalog.CATALOG for name in metric.series_names}))


# A series name as a PromQL identifier (not part of a longer name, a recording rule's or a label
# value), with the brace that opens its matchers when it has some.
_SERIES = re.compile(r'(?<![\w:"])(' + "|".join(map(re.escape, exporter_series())) + r")(?![\w:])(\{)?")
_UP = re.compile(r'(?<![\w:"])up\{job="' + re.escape(EXPORTER_JOB) + '"')


class Template(str):
    """A string to render as a jsonnet format string over the config."""


@dataclass(frozen=True, slots=True)
class Templater:
    """Each method takes the rendered string and its format text so far (``%`` escaped, maybe
    holding threshold placeholders) and returns the string to emit."""

    runbook_base_url: str
    dashboard_base_url: str

    def expression(self, real: str, text: str) -> str:
        """A PromQL expression with the selector placeholder in every exporter series selector
        (``up`` of the exporter's job included)."""
        text = _SERIES.sub(lambda m: m[1] + ("{" + SELECTOR_PREFIX if m[2] else SELECTOR_BRACES), text)
        return self.prose(real, _UP.sub(f'up{{{SELECTOR_PREFIX}job="{JOB}"', text))

    def prose(self, real: str, text: str) -> str:
        """Any string: the base URLs become placeholders."""
        for base, placeholder in sorted([(self.runbook_base_url, RUNBOOK_BASE),
                                         (self.dashboard_base_url, DASHBOARD_BASE)],
                                        key=lambda pair: len(pair[0]), reverse=True):
            text = text.replace(escape(base), placeholder)
        return real if text == escape(real) else Template(text)


def escape(text: str) -> str:
    return text.replace("%", "%%")
