"""All rule modules composed into Prometheus's rule files and promtool's test files.

Each module says what it watches (``groups(spec)``) and how that is proven
(``unit_tests(spec)``); this is the one place that decides which file each group lands in.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from alerts import cost, meta, platform, provider, recording, review, security, slo
from alerts.model import AlertRule, RuleGroup
from alerts.prometheus_config import ALERTING_RULES, RECORDING_RULES
from alerts.render import rule_file, unit_test_file
from alerts.yamlout import dump
from exporter.spec import Spec

MODULES: tuple[ModuleType, ...] = (recording, slo, cost, provider, security, platform, meta, review)
MAX_RULES_PER_GROUP = 20


def all_groups(spec: Spec) -> tuple[RuleGroup, ...]:
    return tuple(group for module in MODULES for group in module.groups(spec))


def alert_rules(spec: Spec) -> tuple[AlertRule, ...]:
    return tuple(rule for group in all_groups(spec) for rule in group.rules if isinstance(rule, AlertRule))


def _is_alerting(group: RuleGroup) -> bool:
    return any(isinstance(rule, AlertRule) for rule in group.rules)


def _split(groups: Iterable[RuleGroup]) -> tuple[list[RuleGroup], list[RuleGroup]]:
    recording_groups: list[RuleGroup] = []
    alerting_groups: list[RuleGroup] = []
    for group in groups:
        if len(group.rules) > MAX_RULES_PER_GROUP:
            raise ValueError(f"rule group {group.name} has {len(group.rules)} rules; at most {MAX_RULES_PER_GROUP}")
        (alerting_groups if _is_alerting(group) else recording_groups).append(group)
    return recording_groups, alerting_groups


def render(spec: Spec) -> dict[str, str]:
    recording_groups, alerting_groups = _split(all_groups(spec))
    files = {
        f"prometheus/{RECORDING_RULES}": dump(rule_file(spec, recording_groups)),
        f"prometheus/{ALERTING_RULES}": dump(rule_file(spec, alerting_groups)),
    }
    rule_files = [f"../{RECORDING_RULES}", f"../{ALERTING_RULES}"]
    order = [group.name for group in (*recording_groups, *alerting_groups)]
    for module in MODULES:
        tests = module.unit_tests(spec)
        if tests:
            name = module.__name__.rpartition(".")[2]
            files[f"prometheus/tests/{name}.test.yml"] = dump(unit_test_file(rule_files, tests, group_eval_order=order))
    # promtool evaluates every group at the file's interval, ignoring a group's own: the budget
    # rules, recorded hourly, are proven in a file evaluated hourly.
    hourly = cost.hourly_unit_tests(spec)
    if hourly:
        files["prometheus/tests/cost-hourly.test.yml"] = dump(unit_test_file(
            rule_files, hourly, cost.HOURLY_TEST_EVALUATION_INTERVAL, group_eval_order=order
        ))
    return files
