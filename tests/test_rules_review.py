"""The guardrail review rules: the false-positive ratio and the tuning flag, read like the spec and
proven by the real promtool."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import review
from alerts.cases import review as review_cases
from tests.test_rules_provider import SPEC, assert_every_selector_is_known, assert_promtool_proves, rules_of


def test_the_ratio_leaves_ambiguous_out_and_takes_the_max_across_replicas() -> None:
    recorded = {r.record: r.expr for r in review.recording_rules()}
    verdicts = "genai_guardrail_review_verdicts"
    assert recorded == {
        "guardrail:genai_review_decisive_verdicts:max": (
            f'max by (guardrail) ({verdicts}{{verdict="true_positive"}})\n+ on (guardrail)\n'
            f'max by (guardrail) ({verdicts}{{verdict="false_positive"}})'),
        "guardrail:genai_review_false_positive:ratio": (
            f'max by (guardrail) ({verdicts}{{verdict="false_positive"}})\n/ on (guardrail)\n'
            "guardrail:genai_review_decisive_verdicts:max"),
    }


def test_the_flag_is_a_security_warning_with_the_spec_minimum() -> None:
    rule = rules_of(review)["GenAIGuardrailNeedsTuning"]
    assert (rule.severity, rule.audience, rule.team, rule.for_) == ("warning", "security", "platform", "30m")
    assert (rule.dashboard, rule.panel) == ("security", "review-fp-ratio")
    assert rule.expr == (
        "guardrail:genai_review_false_positive:ratio\n"
        "> on (guardrail) max by (guardrail) (genai_guardrail_review_tolerated_false_positive_ratio)\n"
        "and on (guardrail)\n"
        "guardrail:genai_review_decisive_verdicts:max >= 20"  # review.min_reviewed in ops.yaml
    )


def test_every_selector_names_a_catalog_series_or_a_recording_rule() -> None:
    assert_every_selector_is_known(review)


@pytest.mark.binaries
def test_promtool_proves_the_review_alert(tmp_path: Path) -> None:
    assert_promtool_proves(review, review_cases, tmp_path, SPEC)
