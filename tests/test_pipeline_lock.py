"""The pipeline lock is held per chunk, not per batch: a scrape never waits for a whole batch."""

from __future__ import annotations

import threading

from contract import catalog
from contract.spec import load
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from tests.paths import EXAMPLE_SPEC

SPEC = load(EXAMPLE_SPEC)
NOW = 1_790_000_100.0


def test_a_scrape_does_not_wait_for_a_huge_batch() -> None:
    """The lock is released between chunks: a scrape taken mid-batch returns before the batch
    ends, and shows part of it (an ordering, not a timing, check)."""
    pipeline = Pipeline(SPEC, recorder=Recorder(clock=lambda: NOW), clock=lambda: NOW)
    records = [b"1"] * 1_000_000  # what a small gzip body can expand to: each one rejected
    ingest = threading.Thread(target=pipeline.ingest, args=(records, "events", "http"))

    def rejected() -> float:
        return pipeline.read(lambda rec: sum(v for k, v in rec.series(catalog.EXPORTER_EVENTS) if k[2] == "rejected"))

    ingest.start()
    while rejected() == 0:
        pass
    body = pipeline.scrape()
    still_counting = ingest.is_alive()
    ingest.join()
    assert still_counting, "the scrape waited for the whole batch"
    seen = sum(float(line.rsplit(b" ", 1)[1]) for line in body.splitlines()
               if line.startswith(b"genai_exporter_events_total{") and b'result="rejected"' in line)
    assert 0 < seen < len(records)
    assert rejected() == len(records)
