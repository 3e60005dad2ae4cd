"""What log rotation tools do to a file, for the tail tests: logrotate's numbering, newest first."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

KEEP = 20


def _shift(path: Path) -> None:
    for n in range(KEEP - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            older.rename(path.with_name(f"{path.name}.{n + 1}"))


def rename(path: Path) -> None:
    """logrotate's default: path.N -> path.N+1, path -> path.1, then a new empty path."""
    _shift(path)
    path.rename(path.with_name(f"{path.name}.1"))
    path.write_bytes(b"")


def copytruncate(path: Path) -> None:
    """logrotate's copytruncate: the content copied to path.1, then path truncated in place."""
    _shift(path)
    shutil.copyfile(path, path.with_name(f"{path.name}.1"))
    os.truncate(path, 0)


ROTATIONS: dict[str, Callable[[Path], None]] = {"rename": rename, "copytruncate": copytruncate}
