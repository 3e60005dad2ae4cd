"""The state directory: what must survive a restart, written atomically.

One snapshot file holds counters, tail offsets, admitted label values, the dedupe window and
adoption timestamps together, so a restart never pairs offsets with counters from another
moment (which would count records twice or not at all).
"""

from __future__ import annotations

import os
from pathlib import Path

SNAPSHOT = "snapshot.msgpack"


class StateStore:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def read(self, name: str = SNAPSHOT) -> bytes | None:
        try:
            return (self.directory / name).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes, name: str = SNAPSHOT) -> None:
        """Replace ``name`` atomically: readers see the old file or the new one, never a mix."""
        write_atomically(self.directory / name, data)

    def quarantine(self, name: str = SNAPSHOT) -> Path | None:
        """Move an unreadable snapshot aside so the exporter can start fresh and it can be inspected."""
        source = self.directory / name
        if not source.exists():
            return None
        target = source.with_name(f"{name}.corrupt")
        os.replace(source, target)
        return target


def write_atomically(target: Path, data: bytes) -> None:
    """Replace ``target`` so that readers, and a crash at any moment, see the old content or the
    new, never a mix: a synced temporary file renamed over it, then the rename synced."""
    temporary = target.with_name(f".{target.name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    fsync_directory(target.parent)


def fsync_directory(directory: Path) -> None:
    """Make a file created, renamed or removed in ``directory`` survive power loss."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
