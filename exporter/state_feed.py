"""Gauges fed from a file a report drops into the exporter's state directory: the review verdict
store (``reports review import``) and the compliance headline (``reports compliance``).

``publish`` runs before every scrape: one ``stat`` when nothing changed. The file is read again
when its modification time or size change, or when forced (SIGHUP: a file replaced within the
file system's timestamp resolution by one of the same size looks unchanged); the gauges are
recomputed when the file or the spec changed. An unreadable file keeps the last good content: a
half-copied file must not blank a panel. A missing file publishes the gauges of "nothing yet".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from contract import catalog
from contract.spec import Spec

log = logging.getLogger("gatewatch.state")

T = TypeVar("T")
Series = dict[tuple[str, ...], float]


class GaugeSink(Protocol):
    def replace_gauge(self, metric: catalog.Metric, values: dict[tuple[str, ...], float]) -> None: ...


class StateFileFeed(Generic[T]):
    """Keeps some gauges in step with the file at ``path`` (None: there is no file to read).

    ``read`` parses the file (raising OSError or ValueError when it cannot); ``gauges`` turns its
    content (None when there is no file) and the running spec into every series of each gauge.
    """

    def __init__(self, path: Path | None, read: Callable[[Path], T],
                 gauges: Callable[[T | None, Spec], Mapping[catalog.Metric, Series]], what: str) -> None:
        self.path = path
        self._read = read
        self._gauges = gauges
        self._what = what
        self._seen: tuple[object, int] | None = None  # (file signature, id of the spec)
        self._content: T | None = None

    def publish(self, recorder: GaugeSink, spec: Spec, *, force: bool = False) -> bool:
        """Publish the gauges if the file or the spec changed (or ``force``); True if it did.
        Never raises for a bad or missing file: the scrape must go on."""
        try:
            signature = self._signature()
        except OSError as err:
            log.warning("cannot look at the %s %s: %s", self._what, self.path, err.strerror)
            return False
        seen = (signature, id(spec))
        if seen == self._seen and not force:
            return False
        reread = force or self._seen is None or self._seen[0] != signature
        self._seen = seen
        if signature is None:
            self._content = None
        elif reread:
            try:
                self._content = self._read(self.path)  # type: ignore[arg-type]
            except (OSError, ValueError) as err:
                log.warning("%s %s unusable (%s); keeping the previous one", self._what, self.path, err)
        for metric, series in self._gauges(self._content, spec).items():
            recorder.replace_gauge(metric, dict(series))
        return True

    def _signature(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_size
