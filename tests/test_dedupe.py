"""The compact duplicate window: fixed-width digests in tables that are never resized."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.dedupe import SLICES, Deduplicator


def test_a_table_that_fills_moves_into_a_larger_one_a_few_slots_at_a_time() -> None:
    now = [1000.0]
    dedupe = Deduplicator(60, lambda: now[0])
    ids = [f"req-{i}" for i in range(20_000)]  # many times what the first table holds
    moving_seen = False
    for record_id in ids:
        assert not dedupe.is_duplicate("litellm", record_id)
        current = dedupe._current
        assert current is not None
        moving_seen = moving_seen or current.old is not None
        if current.old is not None:  # while moving, the part not yet moved is still found
            assert current.moved < len(current.old)
    assert moving_seen, "the slot outgrew its first table"
    assert all(dedupe.is_duplicate("litellm", i) for i in ids)
    assert len(dedupe) == 20_000
    # The whole slot expires together.
    now[0] += 60 + 60 / SLICES + 1
    assert not dedupe.is_duplicate("litellm", "req-1")
    assert len(dedupe) == 1


def test_a_slot_sealed_while_its_table_moves_still_finds_every_id() -> None:
    now = [1000.0]
    dedupe = Deduplicator(60, lambda: now[0])
    count = 0
    while dedupe._current is None or dedupe._current.old is None:
        dedupe.is_duplicate("litellm", f"req-{count}")
        count += 1
    now[0] += 60 / SLICES  # the next slot begins mid-move
    assert all(dedupe.is_duplicate("litellm", f"req-{i}") for i in range(count))


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
