"""The file tail: complete lines only, rotation, truncation and exact resumption.

A recording sink stands in for the pipeline, so each test drives ``poll_once`` by hand and
checks exactly which records were handed over and which position was stored with them. A
"crash" rolls the sink back to its last snapshot, as the real state directory would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import tail as tail_module
from exporter.tail import OVERSIZE_RECORD, FileTail, Position
from tests.support.processes import wait_for


@dataclass
class Call:
    records: list[bytes]
    fmt: str
    source: str
    position: tuple[str, Any] | None


@dataclass
class RecordingSink:
    """Stores records and positions together, like the pipeline's snapshot does."""

    records: list[bytes] = field(default_factory=list)
    positions: dict[str, Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    saved: tuple[int, dict[str, Any]] = (0, {})

    def ingest(self, records: list[bytes], fmt: str, source: str,
               position: tuple[str, Any] | None = None) -> None:
        self.calls.append(Call(list(records), fmt, source, position))
        self.records.extend(records)
        if position is not None:
            self.positions[position[0]] = position[1]

    def position(self, key: str) -> Any:
        return self.positions.get(key)

    def snapshot(self) -> None:
        self.saved = (len(self.records), dict(self.positions))

    def crash(self) -> None:
        """Back to the last snapshot: what a restart after SIGKILL restores."""
        count, positions = self.saved
        del self.records[count:]
        self.positions = dict(positions)


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def stored(sink: RecordingSink, tail: FileTail) -> Position:
    position = Position.decode(sink.position(tail.key))
    assert position is not None
    return position


@pytest.fixture(autouse=True)
def _close_tails(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close every tail a test opened, so no file handle outlives its test."""
    opened: list[FileTail] = []
    original = FileTail.__init__

    def init(self: FileTail, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(FileTail, "__init__", init)
    yield
    for tail in opened:
        tail.close()


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.jsonl"
    path.write_bytes(b"")
    return path


def test_appended_lines_are_handed_over_in_order_with_the_file_source(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink)
    append(log_file, b'{"n":1}\n{"n":2}\n')
    assert tail.poll_once() == 2
    append(log_file, b'{"n":3}\n')
    assert tail.poll_once() == 1
    assert tail.poll_once() == 0
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    assert {(c.fmt, c.source) for c in sink.calls} == {("kong", "file")}
    assert stored(sink, tail).offset == 24  # three lines of 8 bytes


def test_a_partial_last_line_waits_for_its_newline(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "litellm", sink)
    append(log_file, b'{"n":1}\n{"n":')
    assert tail.poll_once() == 1
    assert stored(sink, tail).offset == 8
    append(log_file, b"2}")
    assert tail.poll_once() == 0
    append(log_file, b"\n")
    assert tail.poll_once() == 1
    assert sink.records == [b'{"n":1}', b'{"n":2}']
    assert stored(sink, tail).offset == 16


def test_batches_carry_the_position_just_after_their_last_line(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "events", sink, batch_lines=2)
    append(log_file, b"".join(b'{"n":%d}\n' % i for i in range(5)))
    tail.poll_once()
    batches = [(c.records, c.position[1][2]) for c in sink.calls if c.records and c.position]
    assert batches == [
        ([b'{"n":0}', b'{"n":1}'], 16),
        ([b'{"n":2}', b'{"n":3}'], 32),
        ([b'{"n":4}'], 40),
    ]


def test_blank_lines_are_skipped_but_counted_in_the_offset(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink)
    append(log_file, b'\n{"n":1}\r\n   \n{"n":2}\n\n')
    tail.poll_once()
    assert sink.records == [b'{"n":1}\r', b'{"n":2}']
    assert stored(sink, tail).offset == os.path.getsize(log_file)


def test_rotation_by_rename_finishes_the_old_file_then_reads_the_new_one(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink, rotation_grace=0)
    append(log_file, b'{"n":1}\n')
    tail.poll_once()
    append(log_file, b'{"n":2}\n{"n":3}\n')  # written before the rename, not yet read
    log_file.rename(log_file.with_name("gateway.jsonl.1"))
    log_file.write_bytes(b'{"n":4}\n')
    tail.poll_once()
    append(log_file, b'{"n":5}\n')
    tail.poll_once()
    assert sink.records == [b'{"n":%d}' % i for i in range(1, 6)]
    position = stored(sink, tail)
    assert (position.inode, position.offset) == (os.stat(log_file).st_ino, 16)


def test_a_rotated_file_ending_without_a_newline_still_hands_over_its_last_line(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink, rotation_grace=0)
    append(log_file, b'{"n":1}\n{"n":2}')
    tail.poll_once()
    log_file.rename(log_file.with_name("gateway.jsonl.1"))
    log_file.write_bytes(b'{"n":3}\n')
    tail.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}']


def test_rotation_waits_while_the_new_file_does_not_exist_yet(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink, rotation_grace=0)
    append(log_file, b'{"n":1}\n')
    tail.poll_once()
    rotated = log_file.with_name("gateway.jsonl.1")
    log_file.rename(rotated)
    append(rotated, b'{"n":2}\n')  # the writer has not reopened yet
    assert tail.poll_once() == 1
    log_file.write_bytes(b'{"n":3}\n')
    assert tail.poll_once() == 1
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}']


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_renamed_file_still_being_written_is_followed_until_it_goes_quiet(log_file: Path) -> None:
    clock = FakeClock()
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink, rotation_grace=1.0, clock=clock)
    append(log_file, b'{"n":1}\n')
    tail.poll_once()
    rotated = log_file.with_name("gateway.jsonl.1")
    log_file.rename(rotated)
    log_file.write_bytes(b'{"n":4}\n')
    append(rotated, b'{"n":2}\n{"n":')  # the logger has not reopened its path yet
    tail.poll_once()
    clock.now = 0.5
    append(rotated, b'3}\n')
    tail.poll_once()
    clock.now = 1.25  # quiet for 0.75 s only
    tail.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    clock.now = 1.5
    tail.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}', b'{"n":4}']


def test_a_rotated_file_that_never_stops_growing_is_left_after_the_longest_wait(log_file: Path) -> None:
    clock = FakeClock()
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink, rotation_grace=1.0, clock=clock)
    tail.poll_once()
    rotated = log_file.with_name("gateway.jsonl.1")
    log_file.rename(rotated)
    log_file.write_bytes(b'{"n":999}\n')
    for step in range(61):
        clock.now = step * 0.5
        append(rotated, b'{"n":%d}\n' % step)
        tail.poll_once()
    assert sink.records[-1] == b'{"n":999}'
    assert len(sink.records) == 62  # 0..60 from the rotated file, then the new file's line
    assert tail_module.MAX_ROTATION_WAIT == 30.0


def test_truncation_starts_again_at_offset_zero(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink)
    append(log_file, b'{"n":1}\n{"n":2}\n{"n":3}\n')
    tail.poll_once()
    log_file.write_bytes(b'{"n":4}\n')  # shorter than what was read
    tail.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}', b'{"n":4}']
    assert stored(sink, tail).offset == 8


def test_truncation_refilled_past_the_old_offset_is_noticed_by_its_first_bytes(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink)
    append(log_file, b'{"n":1}\n')
    tail.poll_once()
    # copytruncate, then the writer logs more than was there before, all between two polls.
    log_file.write_bytes(b'{"n":20}\n{"n":21}\n')
    tail.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":20}', b'{"n":21}']


def test_a_file_that_does_not_exist_yet_is_picked_up_when_it_appears(tmp_path: Path) -> None:
    sink = RecordingSink()
    path = tmp_path / "later.jsonl"
    tail = FileTail(path, "kong", sink)
    assert tail.poll_once() == 0
    path.write_bytes(b'{"n":1}\n')
    assert tail.poll_once() == 1


def test_a_line_longer_than_the_limit_is_one_rejected_record(log_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tail_module, "READ_SIZE", 16)  # the long line spans many reads
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink, max_line_bytes=40)
    long_line = b'{"text":"' + b"x" * 100 + b'"}\n'
    append(log_file, b'{"n":1}\n' + long_line + b'{"n":2}\n')
    tail.poll_once()
    assert sink.records == [b'{"n":1}', OVERSIZE_RECORD, b'{"n":2}']
    assert stored(sink, tail).offset == os.path.getsize(log_file)


def test_an_oversized_line_still_being_written_is_not_handed_over_early(
    log_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tail_module, "READ_SIZE", 16)
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink, max_line_bytes=40)
    append(log_file, b'{"n":1}\n' + b"y" * 60)
    tail.poll_once()
    assert sink.records == [b'{"n":1}']
    append(log_file, b"y" * 60 + b'\n{"n":2}\n')
    tail.poll_once()
    assert sink.records == [b'{"n":1}', OVERSIZE_RECORD, b'{"n":2}']
    assert stored(sink, tail).offset == 8 + 121 + 8


# -- restarts ---------------------------------------------------------------------------


def test_a_restart_resumes_at_the_stored_offset(log_file: Path) -> None:
    sink = RecordingSink()
    first = FileTail(log_file, "kong", sink)
    append(log_file, b'{"n":1}\n{"n":2}\n{"n":')
    first.poll_once()
    first.close()
    append(log_file, b'3}\n{"n":4}\n')
    second = FileTail(log_file, "kong", sink)
    second.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}', b'{"n":4}']


def test_a_crash_reads_again_exactly_what_the_last_snapshot_did_not_hold(log_file: Path) -> None:
    sink = RecordingSink()
    first = FileTail(log_file, "kong", sink)
    append(log_file, b'{"n":1}\n')
    first.poll_once()
    sink.snapshot()
    append(log_file, b'{"n":2}\n')
    first.poll_once()  # handed over, but the crash comes before the next snapshot
    first.close()
    sink.crash()
    assert sink.records == [b'{"n":1}']
    second = FileTail(log_file, "kong", sink)
    second.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}']


def test_a_file_rotated_while_down_is_finished_from_its_sibling_first(log_file: Path) -> None:
    sink = RecordingSink()
    first = FileTail(log_file, "kong", sink)
    append(log_file, b'{"n":1}\n')
    first.poll_once()
    first.close()
    append(log_file, b'{"n":2}\n')
    log_file.rename(log_file.with_name("gateway.jsonl-20261129"))
    log_file.write_bytes(b'{"n":3}\n')
    second = FileTail(log_file, "kong", sink, rotation_grace=0)
    second.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}']


def test_a_last_read_file_that_is_gone_means_the_current_file_from_the_start(log_file: Path) -> None:
    sink = RecordingSink()
    first = FileTail(log_file, "kong", sink)
    append(log_file, b'{"n":1}\n')
    first.poll_once()
    first.close()
    log_file.unlink()
    # Whether or not the new file reuses the old inode number, its first bytes differ.
    log_file.write_bytes(b'{"n":2}\n')
    FileTail(log_file, "kong", sink).poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}']


def test_a_file_rewritten_in_place_while_down_is_read_from_the_start(log_file: Path) -> None:
    sink = RecordingSink()
    first = FileTail(log_file, "kong", sink)
    append(log_file, b'{"n":1}\n')
    first.poll_once()
    first.close()
    inode = os.stat(log_file).st_ino
    with log_file.open("r+b") as handle:  # same inode, new content longer than the old offset
        handle.truncate(0)
        handle.write(b'{"n":7}\n{"n":8}\n')
    assert os.stat(log_file).st_ino == inode
    FileTail(log_file, "kong", sink).poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":7}', b'{"n":8}']


@pytest.mark.parametrize(
    "value",
    [None, "x", [1, 2, 3], [1, 2, 3, 4, 5], [1, 2, -3, 0, "ab"], (1, 2, 3, 0, 7)],
)
def test_a_stored_position_of_an_unexpected_shape_is_ignored(value: Any) -> None:
    assert Position.decode(value) is None


def test_a_position_survives_its_encoding() -> None:
    position = Position(66306, 1234567, 4096, 1024, "00ff" * 8)
    assert Position.decode(position.encode()) == position


def test_the_thread_follows_the_file_until_stopped(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink, poll_interval=0.01)
    tail.start()
    try:
        append(log_file, b'{"n":1}\n')
        wait_for(lambda: sink.records == [b'{"n":1}'], what="the tail thread to read the line")
    finally:
        tail.stop()


# -- property: whatever the interleaving, every line exactly once ---------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_line_is_handed_over_exactly_once_across_crashes_and_rotations(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    directory = tmp_path_factory.mktemp("prop")
    path = directory / "gateway.jsonl"
    path.write_bytes(b"")
    count = data.draw(st.integers(1, 25), label="records")
    lines = [b'{"n":%d,"pad":"%s"}' % (i, b"z" * (i % 7)) for i in range(count)]
    text = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(text) - 1), max_size=12), label="cuts"))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

    sink = RecordingSink()
    opened: list[FileTail] = []

    def follow() -> FileTail:
        opened.append(FileTail(path, "kong", sink, batch_lines=3, rotation_grace=0))
        return opened[-1]

    try:
        _replay(path, chunks, data, sink, follow)
    finally:
        for each in opened:
            each.close()
    assert sink.records == lines


def _replay(path: Path, chunks: list[bytes], data: st.DataObject, sink: RecordingSink,
            follow: Callable[[], FileTail]) -> None:
    tail: FileTail | None = follow()
    written = b""
    rotations = 0
    # The tail promises to follow one rotation between snapshots: the next rotation waits until
    # a poll has read the file and a snapshot has stored that (as at start-up).
    rotation_settled = False
    polled_since_rotation = False
    for chunk in chunks:
        append(path, chunk)
        written += chunk
        for op in data.draw(st.lists(st.sampled_from(["poll", "snapshot", "crash", "rotate"]), max_size=4)):
            if op == "poll":
                tail = tail or follow()
                tail.poll_once()
                polled_since_rotation = True
            elif op == "snapshot":
                sink.snapshot()
                rotation_settled = rotation_settled or polled_since_rotation
            elif op == "crash":
                if tail is not None:
                    tail.close()
                tail = None
                sink.crash()
                polled_since_rotation = polled_since_rotation and rotation_settled
            elif op == "rotate" and rotation_settled and written.endswith(b"\n"):
                rotations += 1
                path.rename(path.with_name(f"gateway.jsonl.{rotations}"))
                path.write_bytes(b"")
                rotation_settled = polled_since_rotation = False
    (tail or follow()).poll_once()
