"""Day files: ``DIR/audit-YYYY-MM-DD.jsonl``, one per UTC day, listed in date order."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

_NAME = re.compile(r"^audit-(\d{4}-\d{2}-\d{2})\.jsonl$")
TAIL_BYTES = 64 * 1024


def file_name(day: date) -> str:
    return f"audit-{day.isoformat()}.jsonl"


def day_of(name: str) -> date | None:
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def day_files(directory: Path) -> list[tuple[date, Path]]:
    """Every day file in ``directory``, oldest first; other files are not the log's."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(day, directory / name) for name in names if (day := day_of(name)) is not None]
    return sorted(found)


def complete_tail(path: Path, size: int) -> tuple[list[bytes], int]:
    """The complete lines at the end of ``path`` (at most TAIL_BYTES, whole lines only, newlines
    stripped) and the offset where the complete part ends: bytes after it are a torn write."""
    with path.open("rb") as handle:
        start = max(0, size - TAIL_BYTES)
        handle.seek(start)
        data = handle.read(size - start)
    end = data.rfind(b"\n") + 1
    body = data[:end]
    lines = body.split(b"\n")[:-1] if body else []
    if start > 0 and lines:
        lines = lines[1:]  # the first piece may begin mid-line
    return lines, start + end
