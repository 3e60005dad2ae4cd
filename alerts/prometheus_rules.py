"""All rule modules composed into Prometheus's rule files and promtool's test files.

Each rule module says what it watches (``groups(spec)``); its namesake in ``alerts.cases`` says
how that is proven (``unit_tests(spec)``). This is the one place that decides which file each
group and each case lands in.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from alerts import cost, meta, platform, provider, recording, review, security, slo
from alerts.cases import cost as cost_cases
from alerts.cases import meta as meta_cases
from alerts.cases import platform as platform_cases
from alerts.cases import provider as provider_cases
from alerts.cases import review as review_cases
from alerts.cases import security as security_cases
from alerts.cases import slo as slo_cases
from alerts.model import AlertRule, RuleGroup, UnitTest
from alerts.prometheus_config import ALERTING_RULES, RECORDING_RULES
from alerts.render import rule_file, unit_test_file
from alerts.yamlout import dump
from contract.spec import Spec

MODULES: tuple[ModuleType, ...] = (recording, slo, cost, provider, security, platform, meta, review)
# Recording rules have no cases of their own: the alert cases read them, and
# tests/test_rules_recording.py proves month-to-date by hand.
CASES: tuple[ModuleType, ...] = (
    slo_cases, cost_cases, provider_cases, security_cases, platform_cases, meta_cases, review_cases,
)
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
    for name, interval, tests in _case_files(spec):
        if tests:
            files[f"prometheus/tests/{name}.test.yml"] = dump(
                unit_test_file(rule_files, tests, interval, group_eval_order=order)
            )
    return files


def _case_files(spec: Spec) -> list[tuple[str, str, tuple[UnitTest, ...]]]:
    """(file name, evaluation interval, cases): one file per cases module, evaluated every
    minute, and the budget cases in a file evaluated hourly: promtool evaluates every group at
    the file's interval, ignoring a group's own, and the budget rules are recorded hourly."""
    files = [(module.__name__.rpartition(".")[2], "1m", module.unit_tests(spec)) for module in CASES]
    files.append(("cost-hourly", cost_cases.HOURLY_EVALUATION_INTERVAL, cost_cases.hourly_unit_tests(spec)))
    return files
