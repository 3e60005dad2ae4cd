"""The drill table, played once per test session in the background.

Every scenario runs on its own real stack for a couple of minutes of wall time, mostly waiting
for compressed time to pass. The session starts them as soon as collection has chosen a drill
test (tests/conftest.py), runs the rest of the suite meanwhile, and puts the drill tests last,
so they only collect the outcomes.
"""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from contract import spec as spec_model
from drills import run
from drills.scenarios import scenarios
from tests.paths import EXAMPLE_SPEC
from tests.support.binaries import require

BINARIES = (("prometheus",), ("prometheus-alertmanager", "alertmanager"), ("promtool",))
PARALLEL = 3

SPEC = spec_model.load(EXAMPLE_SPEC)
SCENARIOS = scenarios(SPEC)

_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drills")
_started: list[Future[dict[str, run.Outcome]]] = []   # at most one: this session's drills
_workdir = Path(tempfile.mkdtemp(prefix="gatewatch-test-drills-"))


def _play() -> dict[str, run.Outcome]:
    try:
        outcomes = run.drill_all(SPEC, EXAMPLE_SPEC, SCENARIOS, parallel=PARALLEL, workdir=_workdir)
    finally:
        shutil.rmtree(_workdir, ignore_errors=True)
    return {o.scenario.name: o for o in outcomes}


def start() -> None:
    """Begin the drills if the binaries are here (the tests themselves skip, or fail under CI, if not)."""
    if not _started and all(any(shutil.which(n) for n in names) for names in BINARIES):
        _started.append(_pool.submit(_play))


def outcomes() -> dict[str, run.Outcome]:
    """Every scenario's outcome, waiting for the drills to finish (starting them if need be)."""
    for names in BINARIES:
        require(*names)
    start()
    return _started[0].result()
