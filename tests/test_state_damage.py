"""Damaged state never silently resets the world: last good generation, or a loud refusal.

Each case damages one part of the newest snapshot generation as a flipped bit would (the part
changes, the stored digest does not), then starts a new pipeline on the directory. The totals,
tail positions and duplicate window must equal those of an undamaged restart (the older
generation plus the log since it), and the damage must be said: log, metric, readyz note.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from contract import catalog
from contract.spec import load
from exporter import snapshot as snap
from exporter.dedupe import digest_of
from exporter.legacy_state import LegacyDedupe, LegacySnapshot
from exporter.pipeline import Pipeline, StateRefused
from exporter.recorder import Recorder
from exporter.state import StateStore
from tests.paths import EXAMPLE_SPEC

SPEC = load(EXAMPLE_SPEC)
NOW = 1_790_000_100.0
ROUND_SECONDS = 300.0  # longer than a slice of the 900 s duplicate window: slices get sealed
_clock = [NOW]


def _records(template: dict[str, Any], start: int, n: int) -> list[bytes]:
    out = []
    for i in range(start, start + n):
        record = json.loads(json.dumps(template))
        record["id"] = f"chatcmpl-damage-{i}"
        record["response_cost"] = record["hidden_params"]["response_cost"] = 0.001 * (1 + i % 7)
        out.append(json.dumps(record).encode())
    return out


def _pipeline(state: Path) -> Pipeline:
    return Pipeline(SPEC, recorder=Recorder(clock=lambda: NOW), state=StateStore(state), clock=lambda: _clock[0])


def _fill(state: Path, template: dict[str, Any]) -> tuple[bytes, Any]:
    """Three rounds of ingest with a snapshot after the first two; returns the exposition and
    tail position an undamaged restart gives."""
    _clock[0] = NOW
    pipeline = _pipeline(state)
    for round_ in range(3):
        _clock[0] = NOW + round_ * ROUND_SECONDS
        pipeline.ingest(_records(template, 100 * round_, 60), "litellm", "file", position=("tail:x", [round_, 7]))
        if round_ < 2:
            pipeline.save()
    pipeline.close()
    del pipeline
    truth = _pipeline(state)
    return _counters(truth), truth.position("tail:x")


def _counters(pipeline: Pipeline) -> bytes:
    """The exposition without the gauges a restart sets anew."""
    lines = pipeline.recorder.render().splitlines()
    return b"\n".join(line for line in lines if b"restore_problems" not in line and not line.startswith(b"#"))


def _rewrite_newest(state: Path, change: Callable[[snap.StateSnapshot], None]) -> None:
    """Change a part of the newest generation, keeping its old digest (a flipped bit)."""
    newest = snap.Generations(state).paths()[0]
    data = newest.read_bytes()
    head = len(snap.MAGIC) + 32
    decoded = msgspec.msgpack.decode(data[head:], type=snap.StateSnapshot)
    change(decoded)
    newest.write_bytes(data[:head] + msgspec.msgpack.encode(decoded))


def _flip_counter(s: snap.StateSnapshot) -> None:
    raw = bytearray(s.recorder)
    raw[-9] ^= 0x10
    s.recorder = bytes(raw)


def _flip_position(s: snap.StateSnapshot) -> None:
    s.positions["tail:x"] = [s.positions["tail:x"][0], 7 ^ 0x400]


def _flip_dedupe(s: snap.StateSnapshot) -> None:
    assert s.dedupe_filling is not None
    raw = bytearray(s.dedupe_filling.digests)
    raw[3] ^= 0x01
    s.dedupe_filling = type(s.dedupe_filling)(s.dedupe_filling.end, bytes(raw))


def _flip_admitted(s: snap.StateSnapshot) -> None:
    s.admitted["team"] = [*s.admitted.get("team", []), "intruder"]


def _flip_adoption(s: snap.StateSnapshot) -> None:
    s.first_seen = {team: when + 1024 for team, when in s.first_seen.items()} or {"search": 1.0}


def _flip_log_seq(s: snap.StateSnapshot) -> None:
    s.wal_seq += 1


@pytest.mark.parametrize("damage", [_flip_counter, _flip_position, _flip_dedupe, _flip_admitted, _flip_adoption,
                                    _flip_log_seq], ids=lambda f: f.__name__.removeprefix("_flip_"))
def test_a_damaged_part_falls_back_to_the_last_good_generation(
    tmp_path: Path, litellm_records: list[dict[str, Any]], damage: Callable[[snap.StateSnapshot], None]
) -> None:
    state = tmp_path / "state"
    expected, position = _fill(state, litellm_records[0])
    _rewrite_newest(state, damage)
    restarted = _pipeline(state)
    assert _counters(restarted) == expected
    assert restarted.position("tail:x") == position
    assert restarted.state_notes and "damaged" in restarted.state_notes[0]
    problems = dict(restarted.recorder.series(catalog.EXPORTER_STATE_RESTORE_PROBLEMS))
    assert problems[("snapshot",)] == 1.0
    # The duplicate window came back too: a retried record is a duplicate, not a second charge.
    again = restarted.ingest(_records(litellm_records[0], 0, 5), "litellm", "http")
    assert (again.accepted, again.duplicates) == (0, 5)


def test_a_damaged_sealed_dedupe_file_falls_back(tmp_path: Path, litellm_records: list[dict[str, Any]]) -> None:
    state = tmp_path / "state"
    expected, _ = _fill(state, litellm_records[0])
    sealed = snap.decode(snap.Generations(state).paths()[0].read_bytes()).dedupe_sealed
    assert sealed, "the rounds are a slice apart, so the newest generation names a sealed slice"
    path = state / sealed[0].file
    path.write_bytes(b"\x00" + path.read_bytes()[1:])
    restarted = _pipeline(state)
    assert _counters(restarted) == expected
    assert "fails its digest" in restarted.state_notes[0]


def test_every_generation_damaged_is_a_loud_refusal(tmp_path: Path, litellm_records: list[dict[str, Any]]) -> None:
    state = tmp_path / "state"
    _fill(state, litellm_records[0])
    for path in snap.Generations(state).paths():
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    with pytest.raises(StateRefused, match="failed validation"):
        _pipeline(state)


def test_a_damaged_log_entry_stops_replay_loudly(tmp_path: Path, litellm_records: list[dict[str, Any]]) -> None:
    state = tmp_path / "state"
    _fill(state, litellm_records[0])
    segment = sorted((state / "wal").glob("*.log"))[-1]
    data = bytearray(segment.read_bytes())
    data[20] ^= 0x01
    segment.write_bytes(bytes(data))
    restarted = _pipeline(state)
    assert any("write-ahead log damaged" in note for note in restarted.state_notes)
    assert dict(restarted.recorder.series(catalog.EXPORTER_STATE_RESTORE_PROBLEMS))[("log",)] == 1.0
    assert list((state / "wal").glob("*.damaged")), "the damaged segment is kept for inspection"


def test_a_torn_last_entry_is_cut_off_quietly(tmp_path: Path, litellm_records: list[dict[str, Any]]) -> None:
    state = tmp_path / "state"
    expected, _ = _fill(state, litellm_records[0])
    segment = sorted((state / "wal").glob("*.log"))[-1]
    with segment.open("ab") as handle:
        handle.write(b"\x40\x00\x00\x00partial")  # a crash in the middle of a write
    restarted = _pipeline(state)
    assert _counters(restarted) == expected
    assert restarted.state_notes == []



def test_sealed_slices_carried_over_stay_valid_across_further_restarts(
    tmp_path: Path, litellm_records: list[dict[str, Any]]
) -> None:
    state = tmp_path / "state"
    _clock[0] = NOW
    first = _pipeline(state)
    # A big round then a small one: the small round's slice is sized from the big one's, so a
    # later life, sizing it from its own count, lays the same ids out differently.
    for round_, count in enumerate((400, 60, 10)):
        _clock[0] = NOW + round_ * ROUND_SECONDS
        first.ingest(_records(litellm_records[0], 1000 * round_, count), "litellm", "http")
    first.save()
    first.close()
    _clock[0] = NOW + 2.5 * ROUND_SECONDS
    second = _pipeline(state)
    second.ingest(_records(litellm_records[0], 5000, 10), "litellm", "http")
    second.save()
    second.close()
    third = _pipeline(state)
    assert third.state_notes == [], "a slice already on disk is named, never re-encoded"
    assert sum(v for _, v in third.recorder.series(catalog.REQUESTS)) == 400 + 60 + 10 + 10
    assert third.ingest(_records(litellm_records[0], 1000, 60), "litellm", "http").duplicates == 60


def test_a_snapshot_of_the_earlier_single_file_format_is_carried_over(
    tmp_path: Path, litellm_records: list[dict[str, Any]]
) -> None:
    source = Pipeline(SPEC, recorder=Recorder(clock=lambda: NOW), clock=lambda: NOW)
    source.ingest(_records(litellm_records[0], 0, 10), "litellm", "file", position=("tail:x", [1, 2]))
    ids = [f"chatcmpl-damage-{i}" for i in range(10)]
    legacy = LegacySnapshot(
        recorder=source.recorder.snapshot(),
        dedupe=LegacyDedupe([digest_of("litellm", i) for i in ids], [NOW + 600.0] * 10),
        admitted={}, first_seen={}, first_success={}, last_event={}, positions={"tail:x": [1, 2]},
    )
    state = tmp_path / "state"
    StateStore(state).write(msgspec.msgpack.encode(legacy))
    _clock[0] = NOW
    carried = _pipeline(state)
    assert sum(v for _, v in carried.recorder.series(catalog.REQUESTS)) == 10
    assert carried.position("tail:x") == [1, 2]
    assert carried.ingest(_records(litellm_records[0], 0, 10), "litellm", "http").duplicates == 10
