"""The file tail: complete lines only, rotation, truncation and exact resumption.

A recording sink stands in for the pipeline, so each test drives ``poll_once`` by hand and
checks exactly which records were handed over and which position was stored with them. A
"crash" rolls the sink back to its last snapshot, as the real state directory would.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import tail as tail_module
from exporter.tail import OVERSIZE_RECORD, FileTail
from exporter.tail_files import Checkpoint, decode_position, digest, encode_position
from tests.support import rotation
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


def newest(value: Any) -> Checkpoint:
    """The checkpoint of the newest file in a stored position."""
    checkpoints = decode_position(value)
    assert checkpoints
    return max(checkpoints, key=lambda c: c.seq)


def stored(sink: RecordingSink, tail: FileTail) -> Checkpoint:
    return newest(sink.position(tail.key))


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
    batches = [(c.records, newest(c.position[1]).offset) for c in sink.calls if c.records and c.position]
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


def test_a_renamed_file_still_being_written_keeps_its_partial_line_until_it_goes_quiet(log_file: Path) -> None:
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
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":4}']
    clock.now = 0.5
    append(rotated, b'3}')
    tail.poll_once()
    clock.now = 1.25  # quiet for 0.75 s only: the writer may still finish the line
    tail.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":4}']
    clock.now = 1.5
    tail.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":4}', b'{"n":3}']


def test_a_rotated_file_that_never_stops_growing_is_read_alongside_the_new_one(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink, rotation_grace=1.0, clock=FakeClock())
    tail.poll_once()
    rotated = log_file.with_name("gateway.jsonl.1")
    log_file.rename(rotated)
    log_file.write_bytes(b'{"n":999}\n')
    for step in range(61):
        append(rotated, b'{"n":%d}\n' % step)
        append(log_file, b'{"n":%d}\n' % (1000 + step))
        tail.poll_once()
    expected = {b'{"n":%d}' % n for n in [*range(61), *range(999, 1061)]}
    assert sorted(sink.records) == sorted(expected)


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


@pytest.mark.parametrize("rotations", [
    ["rename", "rename", "rename"],
    ["copytruncate", "copytruncate", "copytruncate"],
    ["copytruncate", "rename", "copytruncate", "rename"],
])
@pytest.mark.parametrize("stopped", [False, True], ids=["between-polls", "while-stopped"])
def test_several_rotations_at_once_are_all_drained_in_order(
    log_file: Path, rotations: list[str], stopped: bool
) -> None:
    sink = RecordingSink()
    gaps: list[str] = []
    tail = FileTail(log_file, "kong", sink, rotation_grace=0, on_gap=gaps.append)
    append(log_file, b'{"n":0}\n')
    tail.poll_once()
    written = 1
    for kind in rotations:
        append(log_file, b'{"n":%d}\n' % written)  # unread when the rotation comes
        written += 1
        rotation.ROTATIONS[kind](log_file)
        append(log_file, b'{"n":%d}\n' % written)
        written += 1
    if stopped:
        tail = FileTail(log_file, "kong", sink, rotation_grace=0, on_gap=gaps.append)
    tail.poll_once()
    assert sink.records == [b'{"n":%d}' % n for n in range(written)]
    assert gaps == []


def test_a_file_truncated_refilled_and_renamed_while_stopped_is_read_with_every_later_file(
    log_file: Path,
) -> None:
    sink = RecordingSink()
    gaps: list[str] = []
    FileTail(log_file, "kong", sink, on_gap=gaps.append).poll_once()
    append(log_file, b'{"n":1}\n')
    FileTail(log_file, "kong", sink, on_gap=gaps.append).poll_once()
    append(log_file, b'{"n":2}\n')
    rotation.copytruncate(log_file)  # the copy keeps n=2
    append(log_file, b'{"n":3}\n')  # refilled in place
    rotation.rename(log_file)  # then renamed: the truncated inode is now .1, the copy .2
    append(log_file, b'{"n":4}\n')
    rotation.rename(log_file)
    append(log_file, b'{"n":5}\n')
    FileTail(log_file, "kong", sink, rotation_grace=0, on_gap=gaps.append).poll_once()
    assert sink.records == [b'{"n":%d}' % n for n in range(1, 6)]
    assert gaps == []


def test_a_truncation_with_no_copy_left_is_counted_as_a_gap(log_file: Path) -> None:
    sink = RecordingSink()
    gaps: list[str] = []
    tail = FileTail(log_file, "kong", sink, on_gap=gaps.append)
    append(log_file, b'{"n":1}\n')
    tail.poll_once()
    os.truncate(log_file, 0)
    append(log_file, b'{"n":2}\n{"n":3}\n')
    tail.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    assert gaps == ["truncated"]


def test_a_file_deleted_before_it_was_read_to_its_end_is_counted_as_a_gap(log_file: Path) -> None:
    sink = RecordingSink()
    gaps: list[str] = []
    tail = FileTail(log_file, "kong", sink, on_gap=gaps.append)
    append(log_file, b'{"n":1}\n')
    tail.poll_once()
    rotation.rename(log_file)
    append(log_file, b'{"n":2}\n')
    tail.poll_once()  # .1 read to its end: its deletion later costs nothing
    log_file.with_name("gateway.jsonl.1").unlink()
    tail.poll_once()
    assert gaps == []
    log_file.unlink()  # the file being written, gone: what was added since the last poll is unknown
    log_file.write_bytes(b'{"n":3}\n')
    tail.poll_once()
    assert sink.records == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    assert gaps == ["missing"]


def test_a_damaged_stored_position_is_counted_and_the_file_read_from_its_start(log_file: Path) -> None:
    sink = RecordingSink()
    gaps: list[str] = []
    tail = FileTail(log_file, "kong", sink, on_gap=gaps.append)
    append(log_file, b'{"n":1}\n')
    sink.positions[tail.key] = {"version": 2, "files": [[1, 2, -5, 0, "x", 0, 0]]}
    tail.poll_once()
    assert sink.records == [b'{"n":1}']
    assert gaps == ["position_unreadable"]


def test_rotated_files_already_there_at_the_first_run_are_history_and_not_read(log_file: Path) -> None:
    append(log_file, b'{"n":1}\n')
    rotation.rename(log_file)
    append(log_file, b'{"n":2}\n')
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink)
    tail.poll_once()
    rotation.rename(log_file)
    append(log_file, b'{"n":3}\n')
    tail.poll_once()
    assert sink.records == [b'{"n":2}', b'{"n":3}']


def test_a_compressed_rotated_file_is_not_read(log_file: Path) -> None:
    sink = RecordingSink()
    tail = FileTail(log_file, "kong", sink)
    tail.poll_once()
    log_file.with_name("gateway.jsonl.2.gz").write_bytes(b'{"n":"compressed"}\n')
    append(log_file, b'{"n":1}\n')
    tail.poll_once()
    assert sink.records == [b'{"n":1}']


@pytest.mark.parametrize(
    "value",
    [
        None, "x", [1, 2, 3], [1, 2, 3, 4, 5], [1, 2, -3, 0, "ab"], (1, 2, 3, 0, 7),
        [1, 2, 3, 9, "ab"],  # a fingerprint longer than what was read
        {"version": 2}, {"version": 2, "files": [[1, 2, 3]]}, {"version": 3, "files": []},
        {"version": 2, "files": [[1, 2, 3, 0, "ab", 0, 2]]}, {"version": 2, "files": [[1, 2, 3, 0, "ab", True, 0]]},
    ],
)
def test_a_stored_position_of_an_unexpected_shape_is_refused(value: Any) -> None:
    assert decode_position(value) is None


def test_a_position_survives_its_encoding() -> None:
    checkpoints = [Checkpoint(66306, 1234567, 4096, 1024, "00ff" * 8, 3, True),
                   Checkpoint(66306, 1234568, 10, 10, "ab" * 16, 4, False)]
    assert decode_position(encode_position(checkpoints)) == checkpoints


def test_a_position_stored_by_the_previous_version_is_resumed(log_file: Path) -> None:
    append(log_file, b'{"n":1}\n{"n":2}\n')
    info = os.stat(log_file)
    sink = RecordingSink(positions={})
    tail = FileTail(log_file, "kong", sink)
    sink.positions[tail.key] = [info.st_dev, info.st_ino, 8, 8, digest(b'{"n":1}\n')]
    tail.poll_once()
    assert sink.records == [b'{"n":2}']


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
    gaps: list[str] = []

    def follow() -> FileTail:
        opened.append(FileTail(path, "kong", sink, batch_lines=3, rotation_grace=0, on_gap=gaps.append))
        return opened[-1]

    try:
        _replay(path, chunks, data, sink, follow)
    finally:
        for each in opened:
            each.close()
    assert sink.records == lines
    assert gaps == []


def _replay(path: Path, chunks: list[bytes], data: st.DataObject, sink: RecordingSink,
            follow: Callable[[], FileTail]) -> None:
    tail: FileTail | None = follow()
    # The first run starts following before the writer starts, and snapshots that.
    tail.poll_once()
    sink.snapshot()
    written = b""
    rotations = 0
    for chunk in chunks:
        append(path, chunk)
        written += chunk
        ops = st.sampled_from(["poll", "snapshot", "crash", "rotate", "copytruncate"])
        for op in data.draw(st.lists(ops, max_size=4)):
            if op == "poll":
                tail = tail or follow()
                tail.poll_once()
            elif op == "snapshot":
                sink.snapshot()
            elif op == "crash":
                if tail is not None:
                    tail.close()
                tail = None
                sink.crash()
            elif op in ("rotate", "copytruncate") and written.endswith(b"\n"):
                # Any number and mix of rotations between polls and snapshots, newest first.
                rotations += 1
                for n in range(rotations - 1, 0, -1):
                    path.with_name(f"gateway.jsonl.{n}").rename(path.with_name(f"gateway.jsonl.{n + 1}"))
                if op == "rotate":
                    path.rename(path.with_name("gateway.jsonl.1"))
                    path.write_bytes(b"")
                else:
                    shutil.copyfile(path, path.with_name("gateway.jsonl.1"))
                    os.truncate(path, 0)
    (tail or follow()).poll_once()
