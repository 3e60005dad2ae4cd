"""Known history in a real Prometheus: simulated records backfilled as TSDB blocks, plus the
ground truth tallied from the very same records.

``History`` generates traffic over [start, end) in segments. Each segment runs through a fresh
exporter pipeline (``simulate.backfill``), so a segment boundary is an exporter restart
that lost its state directory: every counter starts again from 0. promtool turns the
concatenated OpenMetrics into blocks in Prometheus's data directory before Prometheus starts.

Records count in the period in which they reach the exporter: ``truth(start, end)`` tallies the
records with ``start <= at < end``. The scrape grid starts at ``start`` with step ``step``, so
period bounds on that grid see exactly those records.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from contract.spec import Spec
from simulate import generate
from simulate.backfill import backfill
from tests.support.openmetrics import RETENTION, create_blocks
from tests.support.prometheus import Prometheus, scrape_config
from tests.support.truth import Tally, tally


@dataclass(frozen=True)
class Segment:
    """Traffic from ``start`` to ``end`` through one exporter lifetime (counters from 0)."""

    start: float
    end: float
    seed: int


@dataclass(frozen=True)
class History:
    spec: Spec
    segments: tuple[Segment, ...]
    rate: float            # records per second
    step: float            # scrape interval of the simulated history
    scenario: str = "normal"

    def openmetrics(self) -> str:
        """The history as one OpenMetrics file; a later segment's scrape at a shared timestamp is dropped."""
        parts: list[str] = []
        last = -1.0
        for i, seg in enumerate(self.segments):
            out = io.StringIO()
            backfill(self.spec, self.scenario, out, start=seg.start, end=seg.end, rate=self.rate,
                     step=self.step, seed=seg.seed)
            lines = out.getvalue().splitlines(keepends=True)
            assert lines[-1] == "# EOF\n"
            body = lines[:-1]
            if i:
                body = [ln for ln in body if not ln.startswith("#") and float(ln.rsplit(" ", 1)[1]) > last]
            parts.extend(body)
            last = seg.end
        parts.append("# EOF\n")
        return "".join(parts)

    def records(self) -> list[tuple[float, str, dict]]:
        """(arrival time, format, record) of every record, in arrival order."""
        out: list[tuple[float, str, dict]] = []
        for seg in self.segments:
            for rec in generate(self.spec, self.scenario, start=seg.start, duration=seg.end - seg.start,
                                rate=self.rate, seed=seg.seed, text=False):
                if rec.at < seg.end:
                    out.append((rec.at, rec.fmt, rec.payload))
        return out

    def truth(self, start: float, end: float) -> Tally:
        """Per-team requests and cost of the records that reached the exporter in [start, end)."""
        return tally(self.spec, [(fmt, rec) for at, fmt, rec in self.records() if start <= at < end])

    def create_blocks(self, data_dir: Path, workdir: Path) -> None:
        """Write the history as TSDB blocks into ``data_dir`` with the real promtool."""
        span_hours = int((self.segments[-1].end - self.segments[0].start) // 3600) + 24
        create_blocks(self.openmetrics(), data_dir, workdir, span_hours)

    def serve(self, workdir: Path) -> Prometheus:
        """A Prometheus (not yet started: use ``with``) holding this history and scraping nothing."""
        self.create_blocks(workdir / "data", workdir)
        return Prometheus(workdir, scrape_config([], interval="1h"), args=RETENTION)
