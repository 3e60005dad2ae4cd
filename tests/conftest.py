"""Shared fixtures: the sample gateway records and exporter subprocesses cleaned up after each test."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.paths import KONG_FIXTURE, LITELLM_FIXTURE
from tests.support import drills
from tests.support.processes import Exporter, read_jsonl, start_exporter

DRILL_TABLE = "tests/test_drills.py::test_drill_row_holds"

_LITELLM = read_jsonl(LITELLM_FIXTURE)
_KONG = read_jsonl(KONG_FIXTURE)


@pytest.fixture
def litellm_records() -> list[dict[str, Any]]:
    """The ten LiteLLM StandardLoggingPayload samples (a fresh copy per test)."""
    return copy.deepcopy(_LITELLM)


@pytest.fixture
def kong_records() -> list[dict[str, Any]]:
    """The six Kong AI Gateway log samples (a fresh copy per test)."""
    return copy.deepcopy(_KONG)


@pytest.fixture
def exporter_factory(tmp_path: Path) -> Iterator[Callable[..., Exporter]]:
    """``exporter_factory(*cli_args, spec=..., env=...)`` starts a ready exporter; all are
    killed at the end of the test if the test left them running."""
    started: list[Exporter] = []

    def start(*args: Any, **kwargs: Any) -> Exporter:
        exporter = start_exporter(tmp_path / "logs", *args, **kwargs)
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.kill()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The drill table's tests last: they wait for the drills, which play while the rest runs."""
    items.sort(key=lambda item: item.nodeid.startswith(DRILL_TABLE))


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(item.nodeid.startswith(DRILL_TABLE) for item in session.items):
        drills.start()
