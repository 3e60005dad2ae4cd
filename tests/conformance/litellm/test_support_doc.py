"""The LiteLLM support matrix: the committed page is the rendering of the table, and every row
names a conformance test that exists and a metric the catalog declares."""

from __future__ import annotations

import re

from contract import catalog
from tests.conformance.litellm import matrix as support_litellm
from tests.conformance.litellm import test_conformance


def test_the_page_is_the_table() -> None:
    assert support_litellm.PAGE.read_text() == support_litellm.render(), (
        "run: python -m tests.conformance.litellm.matrix")


def test_every_row_names_a_conformance_test_and_catalog_metrics() -> None:
    for row in support_litellm.ROWS:
        assert callable(getattr(test_conformance, row.test, None)), row.test
        for name in re.findall(r"`(genai_[a-z_]+)", row.metric):
            assert name in catalog.BY_NAME or name.removesuffix("_count") in catalog.BY_NAME, name


def test_every_release_note_names_a_pinned_release() -> None:
    for row in support_litellm.ROWS:
        assert set(row.notes) <= set(support_litellm.RELEASES), row.record_field
