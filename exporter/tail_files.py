"""Which files make up a tailed log, and which of them the tail has already read.

A tailed path and the files rotation made of it (``path.1``, ``path.2.``, ``path-20261129``)
form one family. Each file the tail has started is remembered by a checkpoint: its identity
(device, inode) and a fingerprint of its first bytes, with the offset read up to. The
fingerprint recognises a file whatever rotation did to it: renamed (same inode, same content),
copied before a truncation (new inode, same first bytes), truncated in place and refilled
(same inode, other first bytes). Every file of the family not matched to a checkpoint is newer
than everything read, so it is read from its start: that is how several rotations between two
polls, or while the exporter was stopped, are all drained and none is skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

FINGERPRINT_BYTES = 1024
# Rotated files compressed by the rotation tool are not JSONL any more; they were read before.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".z", ".zip")
_SEPARATORS = ".-_"
_NUMBER = re.compile(r"\d+")
# Stored position format; version 1 was a single [device, inode, offset, size, digest] list.
POSITION_VERSION = 2


@dataclass(slots=True)
class Checkpoint:
    """How far one file of the family has been read."""

    device: int
    inode: int
    offset: int
    fingerprint_size: int
    fingerprint: str
    seq: int  # order in which the tail started the files: older content first
    drained: bool = False  # rotated away and read to its end the last time it was looked at

    def encode(self) -> list[Any]:
        return [self.device, self.inode, self.offset, self.fingerprint_size, self.fingerprint,
                self.seq, int(self.drained)]

    @classmethod
    def decode(cls, value: Any) -> Checkpoint | None:
        if not isinstance(value, list | tuple) or len(value) not in (5, 7):
            return None
        device, inode, offset, size, digest, *rest = value
        seq, drained = rest or (0, 0)
        numbers = (device, inode, offset, size, seq, drained)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
            return None
        if not isinstance(digest, str) or size > min(offset, FINGERPRINT_BYTES) or drained > 1:
            return None
        return cls(device, inode, offset, size, digest, seq, bool(drained))


def encode_position(checkpoints: list[Checkpoint]) -> dict[str, Any]:
    return {"version": POSITION_VERSION, "files": [c.encode() for c in checkpoints]}


def decode_position(value: Any) -> list[Checkpoint] | None:
    """The stored checkpoints, or None when the value has an unexpected shape."""
    if isinstance(value, list | tuple):  # version 1: the file being read, nothing else
        single = Checkpoint.decode(value)
        return None if single is None or len(value) != 5 else [single]
    if not isinstance(value, dict) or value.get("version") != POSITION_VERSION:
        return None
    files = value.get("files")
    if not isinstance(files, list):
        return None
    decoded = [Checkpoint.decode(item) for item in files]
    if any(c is None for c in decoded):
        return None
    return [c for c in decoded if c is not None]


def digest(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=16).hexdigest()


@dataclass(slots=True)
class FamilyFile:
    """One file of the family, open for this round."""

    path: Path
    handle: BinaryIO
    device: int
    inode: int
    size: int
    mtime_ns: int
    head: bytes
    current: bool  # the tailed path itself, where the writer appends

    def matches(self, checkpoint: Checkpoint) -> bool:
        """Same content as the checkpointed file, as far as the fingerprint covers it."""
        size = checkpoint.fingerprint_size
        if size == 0:  # nothing read yet: only the inode can tell
            return (self.device, self.inode) == (checkpoint.device, checkpoint.inode)
        return len(self.head) >= size and digest(self.head[:size]) == checkpoint.fingerprint

    def same_inode(self, checkpoint: Checkpoint) -> bool:
        return (self.device, self.inode) == (checkpoint.device, checkpoint.inode)


def open_family(path: Path) -> list[FamilyFile]:
    """The tailed file and its rotated siblings that exist now, each opened once."""
    found: list[FamilyFile] = []
    for candidate in [path, *rotated_siblings(path)]:
        try:
            handle = open(candidate, "rb", buffering=0)  # noqa: SIM115 - closed by close_family
        except OSError:
            continue
        info = os.fstat(handle.fileno())
        head = os.pread(handle.fileno(), FINGERPRINT_BYTES, 0)
        found.append(FamilyFile(candidate, handle, info.st_dev, info.st_ino, info.st_size,
                                info.st_mtime_ns, head, candidate == path))
    return found


def close_family(files: list[FamilyFile]) -> None:
    for each in files:
        each.handle.close()


def rotated_siblings(path: Path) -> list[Path]:
    """Files next to ``path`` that rotation tools name after it (path.1, path-20261129, ...)."""
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return []
    name = path.name
    return [
        p for p in entries
        if len(p.name) > len(name) and p.name.startswith(name) and p.name[len(name)] in _SEPARATORS
        and not p.name.lower().endswith(COMPRESSED_SUFFIXES) and p.is_file()
    ]


def newest_last(file: FamilyFile, base_name: str) -> tuple[Any, ...]:
    """Sort key for files no checkpoint knows: oldest content first, the tailed path last.

    Modification time orders them (a rotated file stops changing when the next one starts);
    within one clock tick logrotate's numbering decides (path.3 is older than path.1), then
    the suffix itself, so dates (path-20261129) sort oldest first.
    """
    suffix = file.path.name[len(base_name):]
    number = _NUMBER.search(suffix)
    index = int(number.group()) if number and len(number.group()) <= 4 else 0
    return (file.current, file.mtime_ns, -index, suffix)
