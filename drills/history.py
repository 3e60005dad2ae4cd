"""A week of ordinary traffic, backfilled into Prometheus's storage before a drill starts, for the
rules that compare with the same hour last week (the cost anomaly, the app volume anomaly).

At factor f a week is 604800 / f drill seconds (2.8 hours at 60). The simulator generates that
stretch of ordinary traffic through the real pipeline (``simulate.backfill``), written as
OpenMetrics for the two counters those rules are built on and turned into blocks by
``promtool tsdb create-blocks-from openmetrics``. A Prometheus started on those blocks then serves
``promtool tsdb create-blocks-from rules``, which evaluates the (compressed) recording rules the
anomaly rules read over the whole range: the recorded series a stack running for a week would
have. Both sets of blocks go into the data directory before the drill's own Prometheus starts.

The history is flat (no weekday or hour-of-day rhythm): at a compressed scale a "day" lasts
24 minutes, and a drill must not depend on the wall-clock hour it runs at.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from alerts import recording
from alerts.model import RecordingRule
from alerts.timescale import compress_expr
from alerts.yamlout import dump
from contract import catalog, signals
from contract.spec import Spec
from simulate.backfill import backfill

WEEK = 7 * 24 * 3600.0
# What "compared with its own past" rules read with offset 1w or over [1d].
FAMILIES = (catalog.REQUESTS, catalog.COST)
RECORDED = (signals.TEAM_COST_RATE1H, signals.TEAM_APP_REQUESTS_RATE1H, signals.TEAM_APP_REQUESTS_RATE5M)
STEP = 2.0        # drill seconds between samples: a compressed [5m] (5 s) still holds two or three
SEED = 7          # not the live traffic's seed: last week's requests were other requests
TIMEOUT = 300.0


def span(factor: float) -> float:
    """Drill seconds of history: a week, plus the [1h] window the week-old hourly rate looks back over."""
    return (WEEK + 3600.0) / factor + 60.0


def recording_rules(spec: Spec, factor: float) -> str:
    """The recording rules in RECORDED, compressed, as one rule file for promtool."""
    rules = [r for g in recording.groups(spec) for r in g.rules
             if isinstance(r, RecordingRule) and r.record in RECORDED]
    entries = []
    for rule in rules:
        entry: dict[str, object] = {"record": rule.record, "expr": compress_expr(rule.expr, factor)}
        if rule.labels:
            entry["labels"] = dict(rule.labels)
        entries.append(entry)
    return dump({"groups": [{"name": "history", "rules": entries}]})


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def write_raw(spec: Spec, rate: float, *, start: float, end: float, workdir: Path, data_dir: Path,
              promtool: str) -> None:
    """Ordinary traffic over [start, end) as TSDB blocks in ``data_dir``."""
    source = workdir / "history.om"
    with source.open("w") as out:
        backfill(spec, "normal", out, start=start, end=end, rate=rate, step=STEP, seed=SEED, families=FAMILIES)
    hours = int((end - start) // 3600) + 2
    _run([promtool, "tsdb", "create-blocks-from", "openmetrics", f"--max-block-duration={hours}h",
          str(source), str(data_dir)], "promtool tsdb create-blocks-from openmetrics")
    source.unlink()


def write_recorded(spec: Spec, factor: float, *, start: float, end: float, prometheus_url: str, workdir: Path,
                   data_dir: Path, promtool: str) -> None:
    """The recorded series over [start, end), evaluated by promtool against ``prometheus_url``
    (serving the raw history), moved into ``data_dir``."""
    rules = workdir / "history-rules.yml"
    rules.write_text(recording_rules(spec, factor))
    output = workdir / "history-recorded"
    _run([promtool, "tsdb", "create-blocks-from", "rules", f"--start={int(start)}", f"--end={int(end)}",
          f"--url={prometheus_url}", f"--eval-interval={int(STEP)}s", f"--output-dir={output}", str(rules)],
         "promtool tsdb create-blocks-from rules")
    for block in output.iterdir():
        if block.is_dir():
            shutil.move(str(block), data_dir / block.name)
    shutil.rmtree(output)
