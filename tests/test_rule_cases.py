"""Rules apart from their promtool cases, and cases that still catch a wrong template.

The cases take an alert's expected summary and description from the rule module's own text
builder, so the prose is stated once. What they still prove is everything Prometheus does to
it: that each ``{{ $labels.x }}`` names a label the expression keeps and each ``{{ $value }}``
formatting renders the hand-computed value. The mutation tests below show that.
"""

from __future__ import annotations

import ast
import dataclasses
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from alerts import cost, meta, platform, provider, recording, review, security, slo
from alerts.cases import security as security_cases
from alerts.model import AlertRule, RecordingRule, RuleGroup
from alerts.prometheus_rules import CASES, MODULES
from alerts.render import rule_file, unit_test_file
from alerts.yamlout import dump
from tests.support.binaries import require
from tests.test_rules_provider import SPEC

RULE_MODULES = (cost, meta, platform, provider, recording, review, security, slo)
CASE_ONLY_NAMES = {"AlertCase", "ExpectedAlert", "SeriesInput", "UnitTest", "expected_alert"}


@pytest.mark.parametrize("module", RULE_MODULES, ids=lambda m: m.__name__)
def test_rule_modules_define_rules_and_no_cases(module: ModuleType) -> None:
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names} | {node.module for node in ast.walk(tree)
                                            if isinstance(node, ast.ImportFrom) and node.module}
    assert imported & CASE_ONLY_NAMES == set()
    assert not any(name.startswith("alerts.cases") for name in imported)
    assert not hasattr(module, "unit_tests")


def test_every_alerting_rule_module_has_a_cases_module_of_the_same_name() -> None:
    alerting = {m.__name__.rpartition(".")[2] for m in MODULES
                if any(isinstance(r, AlertRule) for g in m.groups(SPEC) for r in g.rules)}
    assert alerting == {m.__name__.rpartition(".")[2] for m in CASES}


def _with_description(groups: tuple[RuleGroup, ...], name: str, old: str, new: str) -> tuple[RuleGroup, ...]:
    def mutate(rule: RecordingRule | AlertRule) -> RecordingRule | AlertRule:
        if isinstance(rule, AlertRule) and rule.name == name:
            assert old in rule.description
            return dataclasses.replace(rule, description=rule.description.replace(old, new))
        return rule

    return tuple(dataclasses.replace(g, rules=tuple(mutate(r) for r in g.rules)) for g in groups)


@pytest.mark.binaries
@pytest.mark.parametrize(("name", "old", "new"), [
    # a label the expression does not keep renders empty
    ("GenAIGuardrailBypass", "$labels.app", "$labels.guardrail"),
    # the same value printed another way
    ("GenAIAppVolumeAnomaly", "$value | humanize", 'printf "%.1f" $value'),
])
def test_a_wrong_template_in_a_rule_fails_its_cases(name: str, old: str, new: str, tmp_path: Path) -> None:
    """The security cases pass on the real rules and fail once one template is wrong, although
    the expected text comes from the same builder."""
    tests = security_cases.unit_tests(SPEC)
    groups = (*recording.groups(SPEC), *security.groups(SPEC))

    def promtool_test(rule_groups: tuple[RuleGroup, ...]) -> subprocess.CompletedProcess[str]:
        (tmp_path / "rules.yml").write_text(dump(rule_file(SPEC, rule_groups)))
        document = unit_test_file(["rules.yml"], tests, group_eval_order=[g.name for g in rule_groups])
        (tmp_path / "cases.test.yml").write_text(dump(document))
        return subprocess.run([require("promtool"), "test", "rules", str(tmp_path / "cases.test.yml")],
                              capture_output=True, text=True, check=False)

    real = promtool_test(groups)
    assert real.returncode == 0, real.stdout[-3000:] + real.stderr[-1000:]
    broken = promtool_test(_with_description(groups, name, old, new))
    assert broken.returncode != 0
    assert f"alertname: {name}" in broken.stdout + broken.stderr
