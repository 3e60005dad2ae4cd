"""Follow a JSONL file the gateway writes (Kong file-log, a LiteLLM log file), exactly once.

Only complete lines are handed over; a partial last line waits for its newline. Each batch goes
to the pipeline with the tail's position just after its last line, and the pipeline stores that
position in the same atomic snapshot as the counters, so after a crash the tail resumes exactly
where the restored counters stopped: no record lost, none counted twice.

The position covers the whole rotation family (see ``exporter.tail_files``): every round reads
each file of the family that has unread bytes, oldest content first, so any number of rotations
between two rounds or while the exporter was stopped are drained in order. What cannot be
resumed exactly (a file truncated or deleted before it was read to its end, a damaged stored
position) is logged and counted in ``genai_exporter_tail_gaps_total`` by reason, never guessed
silently.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from exporter.logs import RejectionLog, ThrottledLog
from exporter.tail_files import (
    FINGERPRINT_BYTES,
    Checkpoint,
    FamilyFile,
    close_family,
    decode_position,
    digest,
    encode_position,
    newest_last,
    open_family,
)

log = logging.getLogger("gatewatch.tail")

SOURCE = "file"
READ_SIZE = 1 << 20
# Stands in for a line longer than the limit: not JSON, so the adapter rejects and counts it.
OVERSIZE_RECORD = b"\x00line too long"


class Sink(Protocol):
    """What the tail needs from ``exporter.pipeline.Pipeline``."""

    def ingest(
        self, records: list[bytes], fmt: str, source: str, position: tuple[str, Any] | None = None
    ) -> Any: ...

    def position(self, key: str) -> Any: ...


def position_key(path: str | os.PathLike[str]) -> str:
    return f"tail:{os.path.abspath(path)}"


def _ignore_gap(reason: str) -> None:
    pass


class FileTail:
    """Follows one file and its rotations. ``poll_once`` does one round of work (tests drive it
    directly); ``start`` runs it every ``poll_interval`` seconds on a thread until ``stop``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        fmt: str,
        sink: Sink,
        *,
        poll_interval: float = 0.2,
        batch_lines: int = 1000,
        max_line_bytes: int = 10 * 1024 * 1024,
        rotation_grace: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_gap: Callable[[str], None] = _ignore_gap,
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.key = position_key(path)
        self._sink = sink
        self._poll_interval = poll_interval
        self._batch_lines = batch_lines
        self._max_line = max_line_bytes
        self._grace = rotation_grace
        self._clock = clock
        self._on_gap = on_gap
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checkpoints: list[Checkpoint] | None = None  # loaded on the first round
        self._fresh = False  # nothing stored: rotated files already there are history, not read
        self._committed: Any = None
        # In memory only: (device, inode) -> (size, since when) for a rotated file's last line,
        # and (device, inode, offset) -> bytes of an oversized line already read past offset.
        self._quiet: dict[tuple[int, int], tuple[int, float]] = {}
        self._oversized: dict[tuple[int, int, int], int] = {}
        self._waiting_logged = False
        self.records_handed = 0
        self._rejections = RejectionLog(log)
        self._errors = ThrottledLog(log)

    # -- thread --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"tail {self.path.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._rejections.flush()

    def close(self) -> None:
        """Nothing stays open between rounds; kept so callers can release a tail uniformly."""

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except OSError as err:
                self._errors.error("io", "tail %s: %s; retrying", self.path, err.strerror or err)
            except Exception as err:
                self._errors.error("bug", "tail %s: unexpected %s; retrying", self.path, type(err).__name__,
                                   exc_info=err)
            self._stop.wait(self._poll_interval)

    # -- one round -----------------------------------------------------------------------

    def poll_once(self) -> int:
        """Hand over every complete line available now; returns how many were handed over."""
        before = self.records_handed
        if self._checkpoints is None:
            self._load()
        files = open_family(self.path)
        try:
            if not files:
                if not self._waiting_logged:
                    log.info("tail %s: waiting for the file to appear", self.path)
                    self._waiting_logged = True
                return 0
            self._waiting_logged = False
            for checkpoint, file in self._plan(files):
                if self._stop.is_set():
                    break
                self._drain(checkpoint, file)
            self._commit([])
            present = {(f.device, f.inode) for f in files}
            self._quiet = {k: v for k, v in self._quiet.items() if k in present}
            self._oversized = {k: v for k, v in self._oversized.items() if k[:2] in present}
        finally:
            close_family(files)
        return self.records_handed - before

    def _load(self) -> None:
        stored = self._sink.position(self.key)
        checkpoints = None if stored is None else decode_position(stored)
        if stored is not None and checkpoints is None:
            self._gap("position_unreadable",
                      "the stored position is damaged; following the file from its start, so "
                      "records already counted from it may be counted again")
        self._fresh = checkpoints is None
        self._checkpoints = sorted(checkpoints or [], key=lambda c: c.seq)
        self._committed = stored
        if self._checkpoints:
            latest = self._checkpoints[-1]
            log.info("tail %s: resuming %d file(s) of the rotation family, the newest at offset %d",
                     self.path, len(self._checkpoints), latest.offset)

    def _plan(self, files: list[FamilyFile]) -> list[tuple[Checkpoint, FamilyFile]]:
        """Pair each file with its checkpoint, oldest content first; start unknown files."""
        assert self._checkpoints is not None
        taken: set[int] = set()
        plan: list[tuple[Checkpoint, FamilyFile]] = []
        unread: list[tuple[Checkpoint | None, FamilyFile]] = []
        for checkpoint in self._checkpoints:
            matches = [i for i, f in enumerate(files) if i not in taken and f.matches(checkpoint)]
            chosen = _choose(checkpoint, files, matches)
            if chosen is None:
                self._forget(checkpoint, files)
                continue
            file = files[chosen]
            # Copies of the chosen file (a copy-truncate in progress) hold nothing it does not.
            taken.update(i for i in matches if i == chosen or not _shrunk_original(files[i], checkpoint))
            checkpoint.device, checkpoint.inode = file.device, file.inode
            # A file nothing was read from yet has no place in the order: it sorts with new files.
            (plan if checkpoint.fingerprint_size else unread).append((checkpoint, file))
        known = [file for _, file in plan]
        for file in (f for i, f in enumerate(files) if i not in taken):
            if not file.current and any(_may_become_copy(file, of) for of in known):
                continue  # a copy still being written: it will match its original once complete
            unread.append((None, file))
        for stored, file in sorted(unread, key=lambda pair: newest_last(pair[1], self.path.name)):
            plan.append((stored or self._start(file), file))
        for order, (checkpoint, _) in enumerate(plan):
            checkpoint.seq = order
        self._checkpoints = [checkpoint for checkpoint, _ in plan]
        self._fresh = False
        return plan

    def _start(self, file: FamilyFile) -> Checkpoint:
        checkpoint = Checkpoint(file.device, file.inode, 0, 0, digest(b""), seq=0)  # ordered by _plan
        if self._fresh and not file.current:
            # History from before the first run: remembered as read, so it is never counted.
            checkpoint.offset = file.size
            checkpoint.fingerprint_size = min(file.size, FINGERPRINT_BYTES)
            checkpoint.fingerprint = digest(file.head[: checkpoint.fingerprint_size])
            checkpoint.drained = True
            log.info("tail %s: %s was rotated before the first run; not read", self.path, file.path.name)
        else:
            log.info("tail %s: reading %s from the start (inode %d)", self.path, file.path.name, file.inode)
        return checkpoint

    def _forget(self, checkpoint: Checkpoint, files: list[FamilyFile]) -> None:
        """A checkpointed file is no longer there with its content."""
        if checkpoint.drained:
            return  # rotated, read to its end, then deleted by the rotation tool: nothing lost
        if any(f.same_inode(checkpoint) for f in files):
            self._gap("truncated",
                      f"the file (inode {checkpoint.inode}) was truncated or rewritten in place and "
                      f"no copy of its earlier content is left; lines written after offset "
                      f"{checkpoint.offset} and before the truncation, if any, could not be read")
        else:
            self._gap("missing",
                      f"the file (inode {checkpoint.inode}) read up to offset {checkpoint.offset} is "
                      f"gone before it was read to its end; lines written after that offset, if any, "
                      f"could not be read")

    def _gap(self, reason: str, message: str) -> None:
        log.warning("tail %s: %s", self.path, message)
        self._on_gap(reason)

    # -- reading one file ----------------------------------------------------------------

    def _drain(self, checkpoint: Checkpoint, file: FamilyFile) -> None:
        """Hand over the complete lines of ``file`` past its checkpoint, in batches."""
        fd = file.handle.fileno()
        identity = (file.device, file.inode)
        skipped = self._oversized.pop((*identity, checkpoint.offset), 0)
        read_at = checkpoint.offset + skipped
        pending = b""
        batch: list[bytes] = []
        while not self._stop.is_set():
            chunk = os.pread(fd, READ_SIZE, read_at)
            if not chunk:
                break
            read_at += len(chunk)
            data = pending + chunk
            end = data.rfind(b"\n")
            if end < 0:
                pending = data
            else:
                line_end = read_at - len(data) + end + 1
                batch = self._split(data[: end + 1], batch, oversized_first=skipped > 0,
                                    checkpoint=checkpoint, file=file, start=line_end - (end + 1))
                skipped = 0
                pending = data[end + 1:]
            if skipped or len(pending) > self._max_line:
                if not skipped:
                    log.warning("tail %s: the line at offset %d of %s is longer than %d bytes; it "
                                "counts as one rejected record", self.path, checkpoint.offset,
                                file.path.name, self._max_line)
                skipped = read_at - checkpoint.offset
                pending = b""
        if batch:
            self._hand_over(batch, checkpoint, file, checkpoint.offset)
        self._finish(checkpoint, file, identity=identity, read_at=read_at, pending=pending, skipped=skipped)

    def _split(self, data: bytes, batch: list[bytes], *, oversized_first: bool, checkpoint: Checkpoint,
               file: FamilyFile, start: int) -> list[bytes]:
        """Complete lines starting at file offset ``start`` into the batch; full batches go."""
        offset = start
        lines = data.split(b"\n")
        lines.pop()  # the empty piece after the final newline
        for number, line in enumerate(lines):
            offset += len(line) + 1
            if (number == 0 and oversized_first) or len(line) > self._max_line:
                batch.append(OVERSIZE_RECORD)
            elif line.strip():
                batch.append(line)
            checkpoint.offset = offset
            if len(batch) >= self._batch_lines:
                self._hand_over(batch, checkpoint, file, offset)
                batch = []
        return batch

    def _finish(self, checkpoint: Checkpoint, file: FamilyFile, *, identity: tuple[int, int],
                read_at: int, pending: bytes, skipped: int) -> None:
        """At the end of what is there: a partial last line waits, unless its file is settled."""
        if not pending and not skipped:
            self._quiet.pop(identity, None)
            self._refresh_fingerprint(checkpoint, file)
            checkpoint.drained = not file.current
            return
        checkpoint.drained = False
        if file.current or not self._settled(identity, read_at):
            if skipped:
                self._oversized[(*identity, checkpoint.offset)] = skipped
            return
        # A rotated file that stopped growing ends here: its last line, without a newline, is
        # still a record (the writer never adds the newline to a file it no longer has open).
        self._hand_over([OVERSIZE_RECORD if skipped else pending], checkpoint, file, read_at)
        self._quiet.pop(identity, None)
        checkpoint.drained = True

    def _settled(self, identity: tuple[int, int], size: int) -> bool:
        """True once a rotated file has not grown for the grace period: a logger keeps writing
        to the renamed file until it reopens its path."""
        now = self._clock()
        seen = self._quiet.get(identity)
        if seen is None or seen[0] != size:
            self._quiet[identity] = (size, now)
            return self._grace <= 0
        return now - seen[1] >= self._grace

    def _refresh_fingerprint(self, checkpoint: Checkpoint, file: FamilyFile) -> None:
        wanted = min(checkpoint.offset, FINGERPRINT_BYTES)
        if checkpoint.fingerprint_size == wanted:
            return
        head = file.head if len(file.head) >= wanted else os.pread(file.handle.fileno(), wanted, 0)
        checkpoint.fingerprint_size, checkpoint.fingerprint = wanted, digest(head[:wanted])

    def _hand_over(self, batch: list[bytes], checkpoint: Checkpoint, file: FamilyFile, offset: int) -> None:
        checkpoint.offset = offset
        self._refresh_fingerprint(checkpoint, file)
        self._commit(batch)

    def _commit(self, batch: list[bytes]) -> None:
        """Records and the position that follows them go to the pipeline together."""
        assert self._checkpoints is not None
        position = encode_position(self._checkpoints)
        if not batch and position == self._committed:
            return
        result = self._sink.ingest(batch, self.fmt, SOURCE, position=(self.key, position))
        self._committed = position
        self.records_handed += len(batch)
        if result is not None and result.rejected:
            self._rejections.note(SOURCE, self.fmt, result.rejected, result.errors)


def _choose(checkpoint: Checkpoint, files: list[FamilyFile], matches: list[int]) -> int | None:
    """The file that carries a checkpoint's content on: the same inode if it was not cut short,
    else the largest copy (copy-truncate); None when the content is gone."""
    for index in matches:
        if files[index].same_inode(checkpoint) and files[index].size >= checkpoint.offset:
            return index
    copies = [i for i in matches if not files[i].same_inode(checkpoint)]
    return max(copies, key=lambda i: files[i].size) if copies else None


def _may_become_copy(file: FamilyFile, original: FamilyFile) -> bool:
    """A rotated file whose every byte so far starts a file already followed, and too short to
    be told from it yet: copy-truncate's copy, caught half-written."""
    return len(file.head) < len(original.head) and original.head.startswith(file.head)


def _shrunk_original(file: FamilyFile, checkpoint: Checkpoint) -> bool:
    return file.same_inode(checkpoint) and file.size < checkpoint.offset
