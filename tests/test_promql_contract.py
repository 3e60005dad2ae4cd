"""The one PromQL/Alertmanager quoting and the contract's matchers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import promql
from deploy.alertmanager import matcher

CASES = [
    (("__unassigned__", "__other__"), "__unassigned__|__other__"),
    (("a.b", "c+d"), r"a\\.b|c\\+d"),
    (('say "hi"',), r'say \"hi\"'),
    ((r"back\slash",), r"back\\\\slash"),
    (("team-1",), "team-1"),
]


@pytest.mark.parametrize(("values", "body"), CASES)
def test_literal_alternation(values: tuple[str, ...], body: str) -> None:
    assert promql.literal_alternation(values) == body


def test_outcome_and_sentinel_matchers() -> None:
    assert promql.BAD_OUTCOME == 'outcome=~"provider_error|gateway_error|timeout|rate_limited"'
    assert promql.COUNTED_OUTCOME == 'outcome!~"client_error|quota_exceeded|guardrail_blocked"'
    assert promql.FORWARDED_OUTCOME == 'outcome!~"guardrail_blocked|quota_exceeded"'
    assert promql.sentinel("app") == 'app=~"__unassigned__|__other__"'
    assert promql.named("team") == 'team!~"__unassigned__|__other__"'


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1), min_size=1, max_size=4))
def test_an_alertmanager_matcher_matches_exactly_the_values(values: list[str]) -> None:
    # Alertmanager reads the quoted value, then anchors the regex (Go RE2; Python's re agrees on
    # these escapes); every value must match itself and nothing else of the set's neighbours.
    regex = matcher(promql.matches("team", values))["value"]
    for value in values:
        assert re.fullmatch(regex, value, flags=re.DOTALL)
    assert not re.fullmatch(regex, values[0] + "x", flags=re.DOTALL) or any(v == values[0] + "x" for v in values)
