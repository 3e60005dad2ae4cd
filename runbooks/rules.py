"""What an alert page takes from the alert's own rule: severity, audience, team label, dashboard,
panel and the module that defines it, read from the rules generated for the same spec."""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec

from alerts.model import AlertRule, Severity
from alerts.prometheus_rules import MODULES
from contract.spec import Alerting, Audience, Spec

# A spec without an ``alerting`` section generates only the alerts that need no receiver; its
# runbooks still document every alert, as the model's defaults would generate it.
_DEFAULT_ALERTING = Alerting(
    oncall_receiver="", security_receiver="", finance_receiver="", deadman_receiver="", receivers=()
)

SEVERITY_ORDER: tuple[Severity, ...] = ("info", "warning", "critical")
THRESHOLD_LABEL = "threshold_percent"


@dataclass(frozen=True, slots=True)
class RuleFacts:
    name: str
    module: str  # the rule module's file, e.g. alerts/cost.py
    severity: str  # one level, or how it steps up with the threshold
    audience: Audience
    team_is_platform: bool  # else the expression keeps the team's own label
    dashboard: str
    panel: str
    labels: dict[str, str]  # fixed labels beyond severity and audience, as every instance has them
    for_: str  # how long the condition must hold, as a Prometheus duration ("" fires at once)


def _severity(name: str, rules: list[AlertRule]) -> str:
    """The severity as a page states it: one level, or where it steps up with the threshold."""
    levels = sorted({r.severity for r in rules}, key=SEVERITY_ORDER.index)
    if len(levels) == 1:
        return levels[0]
    if len(levels) > 2 or not all(THRESHOLD_LABEL in r.labels for r in rules):
        raise ValueError(f"{name}: severities {levels} without one {THRESHOLD_LABEL} step to say when each applies")
    # Budget alerts: the severity steps up at one threshold; say where.
    by_threshold = sorted(rules, key=lambda r: float(r.labels[THRESHOLD_LABEL]))
    step = next(r for r in by_threshold if r.severity == levels[-1]).labels[THRESHOLD_LABEL]
    return f"{levels[0]} below {step} %, {levels[-1]} at {step} % and above"


_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}


def duration_words(duration: str) -> str:
    """A Prometheus duration in words: ``5m`` -> ``5 minutes``, ``1h30m`` -> ``1 hour 30 minutes``."""
    parts = re.findall(r"(\d+)([smhdw])", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"{duration!r} is not a Prometheus duration")
    return " ".join(f"{n} {_UNITS[u]}{'' if n == '1' else 's'}" for n, u in parts)


def _one(name: str, what: str, values: set[str]) -> str:
    if len(values) != 1:
        raise ValueError(f"{name}: its rules disagree on {what}: {sorted(values)}")
    return values.pop()


def rule_facts(spec: Spec) -> dict[str, RuleFacts]:
    """Every alert the spec generates (with the default alerting section if it has none), by name,
    with what all its rules (one per objective or threshold) say about it."""
    if spec.alerting is None:
        spec = msgspec.structs.replace(spec, alerting=_DEFAULT_ALERTING)
    found: dict[str, tuple[str, list[AlertRule]]] = {}
    for module in MODULES:
        path = f"alerts/{module.__name__.rpartition('.')[2]}.py"
        for group in module.groups(spec):
            for rule in group.rules:
                if isinstance(rule, AlertRule):
                    found.setdefault(rule.name, (path, []))[1].append(rule)
    facts = {}
    for name, (path, rules) in found.items():
        shared = dict(set.intersection(*(set(r.labels.items()) for r in rules)))
        facts[name] = RuleFacts(
            name=name,
            module=path,
            severity=_severity(name, rules),
            audience=_one(name, "audience", {r.audience for r in rules}),  # type: ignore[arg-type]
            team_is_platform=_one(name, "team", {str(r.team) for r in rules}) == "platform",
            dashboard=_one(name, "dashboard", {r.dashboard for r in rules}),
            panel=_one(name, "panel", {r.panel for r in rules}),
            labels=shared,
            for_=_one(name, "for", {r.for_ for r in rules}),
        )
    return facts
