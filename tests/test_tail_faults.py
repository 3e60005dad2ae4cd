"""Fault injection on a real exporter following a rotated log: every line counted exactly once.

The exporter runs as a process with a state directory. Lines are appended while the log is
rotated several times in a row (rename, copy-truncate, truncate-then-rename, and all of them
mixed), either while the exporter runs (several rotations land between two of its polls) or
while it is killed with SIGKILL and restarted. The ground truth is the list of lines written;
the exporter's accepted count must equal it with no duplicate and no gap reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import rotation
from tests.support.processes import Exporter, by_label, spec_variant, total, wait_for

PATTERNS: dict[str, list[str]] = {
    "rename": ["rename", "rename", "rename"],
    "copytruncate": ["copytruncate", "copytruncate", "copytruncate"],
    "truncate-then-rename": ["truncate-then-rename", "truncate-then-rename"],
    "mixed": ["copytruncate", "rename", "truncate-then-rename", "copytruncate", "rename"],
}


def append_lines(path: Path, lines: list[bytes]) -> None:
    with path.open("ab") as handle:
        handle.write(b"".join(line + b"\n" for line in lines))


class _Log:
    """The gateway's log: numbered records appended, rotated on demand; remembers what it wrote."""

    def __init__(self, path: Path, template: dict[str, Any]) -> None:
        self.path = path
        self.template = template
        self.written = 0
        path.write_bytes(b"")

    def write(self, count: int) -> None:
        lines = []
        for _ in range(count):
            record = json.loads(json.dumps(self.template))
            record["id"] = f"chatcmpl-rotation-{self.written}"
            lines.append(json.dumps(record).encode())
            self.written += 1
        append_lines(self.path, lines)

    def rotate(self, kind: str) -> None:
        if kind == "truncate-then-rename":
            rotation.copytruncate(self.path)
            self.write(5)  # refilled in place before the rename
            rotation.rename(self.path)
        else:
            rotation.ROTATIONS[kind](self.path)


def _assert_exact(exporter: Exporter, log: _Log) -> None:
    wait_for(lambda: total(exporter.scrape(), "genai_exporter_events_total", source="file") >= log.written,
             what="every written line to be read")
    metrics = exporter.scrape()
    # Exactness comes from the positions: a re-read would show up as duplicates.
    assert by_label(metrics, "genai_exporter_events_total", "result", source="file") == {"accepted": log.written}
    assert total(metrics, "genai_requests_total") == log.written
    assert total(metrics, "genai_exporter_tail_gaps_total") == 0


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_several_rotations_between_polls_lose_and_repeat_nothing(
    tmp_path: Path, exporter_factory: Callable[..., Exporter], litellm_records: list[dict[str, Any]],
    pattern: str,
) -> None:
    log = _Log(tmp_path / "gateway.jsonl", litellm_records[0])
    exporter = exporter_factory("--state-dir", tmp_path / "state", "--tail", log.path, "--format", "litellm")
    for _ in range(3):
        log.write(40)
        wait_for(lambda: total(exporter.scrape(), "genai_exporter_events_total", source="file") >= log.written,
                 what="the exporter to catch up before the next burst of rotations")
        for kind in PATTERNS[pattern]:  # back to back: far faster than one poll interval
            log.write(7)
            log.rotate(kind)
        log.write(3)
    _assert_exact(exporter, log)
    assert by_label(exporter.scrape(), "genai_exporter_tail_gaps_total", "reason") == {
        "truncated": 0.0, "missing": 0.0, "position_unreadable": 0.0,
    }
    assert exporter.stop() == 0


@pytest.mark.slow
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_rotations_while_killed_lose_and_repeat_nothing(
    tmp_path: Path, exporter_factory: Callable[..., Exporter], litellm_records: list[dict[str, Any]],
    pattern: str,
) -> None:
    spec = spec_variant(tmp_path, {"snapshot_interval_seconds: 5": "snapshot_interval_seconds: 0.5"})
    log = _Log(tmp_path / "gateway.jsonl", litellm_records[0])
    args = ("--state-dir", tmp_path / "state", "--tail", log.path, "--format", "litellm")
    exporter = exporter_factory(*args, spec=spec)
    for _ in range(2):
        log.write(60)
        wait_for(lambda e=exporter: total(e.scrape(), "genai_exporter_events_total", source="file") >= 30,
                 what="the exporter to read part of the log")
        log.write(20)  # some of it read after the last snapshot: read again after the restart
        exporter.kill()
        for kind in PATTERNS[pattern]:
            log.write(7)
            log.rotate(kind)
        log.write(3)
        exporter = exporter_factory(*args, spec=spec)
    _assert_exact(exporter, log)
    assert exporter.stop() == 0
