"""The compact duplicate window: fixed-width digests in tables that are never resized."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.dedupe import SLICES, Deduplicator


def test_a_slot_that_fills_is_split_and_every_id_is_still_remembered() -> None:
    now = [1000.0]
    dedupe = Deduplicator(60, lambda: now[0])
    ids = [f"req-{i}" for i in range(5000)]  # many times what the first table holds
    assert not any(dedupe.is_duplicate("litellm", i) for i in ids)
    assert all(dedupe.is_duplicate("litellm", i) for i in ids)
    assert len(dedupe) == 5000
    tables = [len(piece.table) for piece in dedupe.sealed()] + [len(dedupe._current.table)]  # type: ignore[union-attr]
    assert all(b == 2 * a for a, b in pairwise(tables)), "each split doubles; none resized"
    assert dedupe.memory_bytes() <= 32 * 5000 * 2
    # The whole slot expires together, split or not.
    now[0] += 60 + 60 / SLICES + 1
    assert not dedupe.is_duplicate("litellm", "req-1")
    assert len(dedupe) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.floats(0, 40)), max_size=300))
def test_dump_and_load_keep_exactly_the_ids_of_the_window(steps: list[tuple[str, float]]) -> None:
    now = [1000.0]
    first = Deduplicator(60, lambda: now[0])
    seen: dict[str, float] = {}
    for record_id, advance in steps:
        now[0] += advance / 10
        if not first.is_duplicate("events", record_id):
            seen[record_id] = now[0]
    second = Deduplicator(60, lambda: now[0])
    second.load(first.dump())
    for record_id, when in seen.items():
        expected = now[0] - when < 60  # inside the window: certainly remembered
        if expected:
            assert second.is_duplicate("events", record_id), record_id
