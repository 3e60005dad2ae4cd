"""Verifying the audit trail: walk every day file in date order and say where the chain breaks.

What it finds, each named by file, line number and seq:

- an edited line: its hash no longer matches the next line's ``prev``;
- deleted lines: a gap in ``seq`` whose missing numbers appear nowhere;
- reordered lines: ``seq`` out of order, the numbers all present;
- a missing day file: a roll line names a previous day file that is not there, or the chain
  jumps between two files;
- an unparseable line: not an audit line at all (its hash still chains the next one).

What it cannot find alone: lines removed from the end of the newest file, the newest file
deleted, or the oldest files deleted (a purge looks the same). Prometheus's record of the chain
length and head covers the first two (``reports audit verify --prometheus``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from exporter.audit import lines
from exporter.audit.chain import line_hash
from exporter.audit.files import day_files, file_name


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # edited, deleted, reordered, missing_file, unparseable
    file: str
    line: int | None  # 1-based line number in ``file``
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        seq = f" seq {self.seq}:" if self.seq is not None else ""
        return f"{where}:{seq} {self.kind.replace('_', ' ')}: {self.message}"


@dataclass(frozen=True, slots=True)
class Verification:
    problems: tuple[Problem, ...]
    files: int
    lines: int
    first_seq: int | None
    length: int  # seq of the last line (0 for an empty log)
    head: str
    # seq -> (hash, file name, line number) of every line, for comparisons with Prometheus.
    hashes: dict[int, tuple[str, str, int]] = field(default_factory=dict, repr=False)

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class _Line:
    file: str
    number: int
    raw: bytes
    seq: int | None
    prev: str | None
    kind: str | None
    previous_day: str | None


def _read(directory: Path, upto_seq: int | None) -> tuple[list[_Line], list[tuple[date, str]], list[Problem]]:
    found: list[_Line] = []
    problems: list[Problem] = []
    files = day_files(directory)
    for _day, path in files:
        data = path.read_bytes()
        body = data.split(b"\n")
        torn = body.pop()  # after the last newline: empty unless the last line is torn
        for number, raw in enumerate(body, start=1):
            found.append(_parsed(path.name, number, raw, problems))
            if upto_seq is not None and found[-1].seq == upto_seq:
                return found, [(d, p.name) for d, p in files], problems
        if torn:
            problems.append(Problem("unparseable", path.name, len(body) + 1, None,
                                    "incomplete last line (no newline): a torn write or an edit"))
    return found, [(d, p.name) for d, p in files], problems


def _parsed(name: str, number: int, raw: bytes, problems: list[Problem]) -> _Line:
    try:
        obj = lines.parse(raw)
    except lines.LineError as err:
        problems.append(Problem("unparseable", name, number, None, f"not an audit line ({err})"))
        return _Line(name, number, raw, None, None, None, None)
    previous = obj.get("previous") if obj["kind"] == lines.ROLL else None
    return _Line(name, number, raw, obj["seq"], obj["prev"], obj["kind"], previous)


def verify(directory: str | Path, *, upto_seq: int | None = None) -> Verification:
    """Check the whole log under ``directory`` (stopping after ``upto_seq`` when given)."""
    directory = Path(directory)
    found, files, problems = _read(directory, upto_seq)
    present = {d.isoformat() for d, _ in files}
    first_day = files[0][0].isoformat() if files else None
    seqs = {ln.seq for ln in found if ln.seq is not None}
    hashes: dict[int, tuple[str, str, int]] = {}
    previous: _Line | None = None
    previous_hash = lines.GENESIS
    expected_seq: int | None = None
    missing_reported: set[str] = set()
    for ln in found:
        digest = line_hash(ln.raw)
        seq = ln.seq if ln.seq is not None else expected_seq
        if ln.seq is not None:
            hashes[ln.seq] = (digest, ln.file, ln.number)
        boundary = previous is not None and previous.file != ln.file
        explained = False
        if ln.kind == lines.ROLL and ln.previous_day and first_day and ln.previous_day >= first_day \
                and ln.previous_day not in present and ln.previous_day not in missing_reported:
            missing_reported.add(ln.previous_day)
            problems.append(Problem(
                "missing_file", file_name(date.fromisoformat(ln.previous_day)), None, None,
                f"the chain continues in {ln.file} (seq {ln.seq}) from this day file, which is not there",
            ))
            explained = True
        if ln.seq is not None and expected_seq is not None and ln.seq != expected_seq:
            if ln.seq < expected_seq:
                problems.append(Problem("reordered", ln.file, ln.number, ln.seq,
                                        f"seq {ln.seq} comes after seq {expected_seq - 1}"))
            else:
                gap = range(expected_seq, ln.seq)
                if all(s in seqs for s in gap):
                    problems.append(Problem("reordered", ln.file, ln.number, ln.seq,
                                            f"seq {ln.seq} comes where seq {expected_seq} belongs"))
                elif boundary and not explained:
                    problems.append(Problem(
                        "missing_file", ln.file, ln.number, ln.seq,
                        f"seq {expected_seq}..{ln.seq - 1} are missing between {previous.file} and {ln.file}: "  # type: ignore[union-attr]
                        "a day file between them was removed",
                    ))
                elif not explained:
                    count = ln.seq - expected_seq
                    problems.append(Problem("deleted", ln.file, ln.number, ln.seq,
                                            f"{count} line(s) before this one were removed (seq "
                                            f"{expected_seq}..{ln.seq - 1} missing)"))
            explained = True
        if ln.prev is not None and ln.prev != previous_hash and not explained and previous is not None:
            if previous.seq is None:
                pass  # already reported as unparseable
            else:
                problems.append(Problem("edited", previous.file, previous.number, previous.seq,
                                        f"this line's hash does not match the prev of the next line "
                                        f"({ln.file}:{ln.number})"))
        previous, previous_hash = ln, digest
        expected_seq = seq + 1 if seq is not None else None
    problems = sorted(_merge_reordered(problems), key=lambda p: (p.file, p.line or 0))
    last = found[-1] if found else None
    length = (expected_seq - 1) if expected_seq is not None else (len(found) if found else 0)
    return Verification(
        problems=tuple(problems),
        files=len(files),
        lines=len(found),
        first_seq=found[0].seq if found else None,
        length=length,
        head=line_hash(last.raw) if last is not None else lines.GENESIS,
        hashes=hashes,
    )


def _merge_reordered(problems: list[Problem]) -> list[Problem]:
    """A swap shows as two or three out-of-order seqs on adjacent lines: one problem per run."""
    merged: list[Problem] = []
    for problem in problems:
        last = merged[-1] if merged else None
        if (last is not None and problem.kind == last.kind == "reordered" and problem.file == last.file
                and problem.line is not None and last.line is not None and problem.line - last.line <= 2):
            first_line = last.line
            merged[-1] = Problem("reordered", last.file, first_line, last.seq,
                                 f"lines {first_line}..{problem.line} are out of order ({last.message}; "
                                 f"{problem.message})")
            continue
        merged.append(problem)
    return merged
