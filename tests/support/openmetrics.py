"""Known history for a real Prometheus: OpenMetrics text turned into TSDB blocks by the real
promtool, and a Prometheus (not yet started: use ``with``) serving them and scraping nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contract import catalog
from tests.support.binaries import require
from tests.support.prometheus import Prometheus, scrape_config

# Reports read history years old: keep every block.
RETENTION = ("--storage.tsdb.retention.time=100y",)


@dataclass(frozen=True)
class Series:
    name: str  # the sample name (counters with _total)
    labels: dict[str, str]
    samples: tuple[tuple[float, float], ...]


def linear(per_second: float, times: Iterable[float], since: float, offset: float = 0.0) -> tuple[
        tuple[float, float], ...]:
    """A counter growing ``per_second`` from ``offset`` at ``since``, sampled at ``times`` >= since."""
    return tuple((t, offset + per_second * (t - since)) for t in times if t >= since)


def grid(start: float, end: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((end - start) // step) + 1)]


def _family(name: str) -> tuple[str, str]:
    histogram = catalog.PROMPT_TOKENS.name
    if name.startswith(histogram + "_"):
        return histogram, "histogram"
    if name.endswith("_total"):
        return name.removesuffix("_total"), "counter"
    return name, "gauge"


def openmetrics(series: Iterable[Series]) -> str:
    """The series as one OpenMetrics file promtool accepts: each family typed once at the top,
    samples in time order."""
    families: dict[str, str] = {}
    lines: list[tuple[float, str]] = []
    for s in series:
        family, kind = _family(s.name)
        families[family] = kind
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        lines.extend((t, f"{s.name}{{{labels}}} {v!r} {t:.3f}\n") for t, v in s.samples)
    lines.sort(key=lambda line: line[0])
    head = "".join(f"# TYPE {f} {k}\n" for f, k in sorted(families.items()))
    return head + "".join(text for _t, text in lines) + "# EOF\n"


def create_blocks(text: str, data_dir: Path, workdir: Path, max_block_hours: int = 2000) -> None:
    """Write OpenMetrics ``text`` as TSDB blocks into ``data_dir`` with the real promtool."""
    source = workdir / "history.om"
    workdir.mkdir(parents=True, exist_ok=True)
    source.write_text(text)
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [require("promtool"), "tsdb", "create-blocks-from", "openmetrics",
         f"--max-block-duration={max_block_hours}h", str(source), str(data_dir)],
        check=True, capture_output=True,
    )
    source.unlink()


def serve_text(text: str, workdir: Path) -> Prometheus:
    """A Prometheus holding the OpenMetrics ``text`` as blocks, scraping nothing."""
    create_blocks(text, workdir / "data", workdir)
    return Prometheus(workdir, scrape_config([], interval="1h"), args=RETENTION)


def serve(series: Iterable[Series], workdir: Path) -> Prometheus:
    """A Prometheus holding ``series``, scraping nothing."""
    return serve_text(openmetrics(series), workdir)
