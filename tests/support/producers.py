"""Real OpenTelemetry GenAI producers, each in its own cached venv, pinned exactly.

The instrumentation packages move fast and pin each other tightly, so each producer gets a venv
of its own under ``.cache/conformance/otel-<name>/`` (gitignored, beside the gateways'
conformance venvs; ``make conformance`` builds them too), built on first use from
``tests/producers/<name>.txt`` (a complete ``pip freeze``, installed with ``--no-deps``) and
rebuilt when that file changes. ``tests/producers/app.py`` runs inside it. Building one needs
the package index; a failure to build fails the test (it never skips).
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.paths import ROOT

CACHE = ROOT / ".cache" / "conformance"
PINS = ROOT / "tests" / "producers"
APP = PINS / "app.py"


@dataclass(frozen=True)
class Producer:
    name: str  # the pins file's stem and the venv's folder
    instrumentation: str  # app.py --producer
    encodings: tuple[str, ...]  # what its OTLP exporter speaks
    # What its spans carry beyond input/output tokens (checked against the fake upstream).
    reports_cached: bool
    reports_reasoning: bool
    reports_ttft: bool
    # Whether its gen_ai.client.operation.duration points for failed calls name the model.
    failures_name_the_model: bool = True


PRODUCERS = (
    # The official instrumentation, with both of the SDK's OTLP/HTTP exporters.
    Producer("openai-v2-2.4b0", "openai-v2", ("protobuf", "json"), reports_cached=False,
             reports_reasoning=False, reports_ttft=False),
    # OpenLLMetry today: current semantic-convention names (gen_ai.operation.name, input_tokens),
    # one event per streamed chunk.
    Producer("openllmetry-0.62.4", "openllmetry", ("protobuf",), reports_cached=True,
             reports_reasoning=True, reports_ttft=True, failures_name_the_model=False),
    # OpenLLMetry of a year before: llm.request.type, gen_ai.system, prompt/completion_tokens,
    # one event per streamed chunk, on an SDK of its time.
    Producer("openllmetry-0.47.3", "openllmetry", ("protobuf",), reports_cached=True,
             reports_reasoning=True, reports_ttft=True, failures_name_the_model=False),
)


def python_of(producer: Producer) -> Path:
    """The producer venv's interpreter, building the venv first when missing or stale."""
    pins = PINS / f"{producer.name}.txt"
    digest = hashlib.sha256(pins.read_bytes()).hexdigest()
    venv = CACHE / f"otel-{producer.name}"
    marker = venv / ".pins-sha256"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f".otel-{producer.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes build it once
        if not (marker.exists() and marker.read_text() == digest):
            shutil.rmtree(venv, ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(venv)])
            _run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                  "--no-deps", "-r", str(pins)])
            marker.write_text(digest)
    return venv / "bin" / "python"


def _run(command: Sequence[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def run_app(producer: Producer, *, upstream: str, endpoint: str, spans_out: Path, encoding: str = "protobuf",
            service_name: str = "support-bot", service_namespace: str = "support", canary: str = "",
            token: str = "", rounds: int = 1, metrics: str = "none") -> None:
    """Run the instrumented application to completion (it flushes its spans before exiting)."""
    command = [
        str(python_of(producer)), str(APP), "--producer", producer.instrumentation,
        "--upstream", upstream, "--endpoint", endpoint, "--encoding", encoding,
        "--service-name", service_name, "--service-namespace", service_namespace,
        "--spans-out", str(spans_out), "--rounds", str(rounds), "--metrics", metrics,
    ]
    if canary:
        command += ["--canary", canary]
    if token:
        command += ["--token", token]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(CACHE)})
    if done.returncode != 0:
        raise AssertionError(f"{producer.name} app failed ({done.returncode}):\n{done.stderr[-3000:]}")


if __name__ == "__main__":  # make conformance: build every producer's venv, side by side
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(PRODUCERS)) as pool:
        list(pool.map(python_of, PRODUCERS))
