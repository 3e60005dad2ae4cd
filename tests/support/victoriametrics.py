"""Real VictoriaMetrics components for tests (Debian's ``victoria-metrics`` package): the
single-node server, ``vmagent`` scraping into it and ``vmalert`` evaluating rules against it, each
on a free loopback port; plus a sink that records what vmalert notifies.

``VictoriaMetrics`` answers the same Prometheus HTTP API as ``tests.support.prometheus.Prometheus``
(it is one), so the helpers written for Prometheus query it unchanged.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from drills.stack import free_port
from tests.support.binaries import require
from tests.support.prometheus import Prometheus

START_TIMEOUT = 30.0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


class _Server:
    """A process that answers ``/health`` once ready, stopped on exit."""

    name = ""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = subprocess.Popen(self.command(), stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(f"{self.url}/health"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


class VictoriaMetrics(Prometheus):
    """``with VictoriaMetrics(tmp_path) as vm: vm.query("up")`` — single-node, nothing hidden."""

    def __init__(self, workdir: Path) -> None:  # a different server behind the same query API
        self.binary = require("victoria-metrics")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "victoria-metrics.log"
        self.process = None

    def __enter__(self) -> VictoriaMetrics:
        self.process = subprocess.Popen(
            [
                self.binary,
                f"-storageDataPath={self.workdir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                # By default the newest 30 s are hidden from queries, as possibly incomplete; the tests
                # compare with a Prometheus that hides nothing.
                "-search.latencyOffset=0s",
                "-search.disableCache",
            ],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not _healthy(f"{self.url}/health"):
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"victoria-metrics not ready: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)

    def import_prometheus_text(self, text: str) -> None:
        """Samples in the text exposition format with timestamps (milliseconds), as Prometheus
        would have scraped them; made searchable before returning."""
        request = urllib.request.Request(f"{self.url}/api/v1/import/prometheus", data=text.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.status == 204, response.status
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=60):
            pass


class VmAgent(_Server):
    """Scrapes ``targets`` every ``interval`` as job ``job`` and remote-writes to VictoriaMetrics."""

    name = "vmagent"

    def __init__(self, workdir: Path, vm: VictoriaMetrics, targets: list[str], *, interval: str = "1s",
                 job: str = "gatewatch") -> None:
        super().__init__(workdir)
        self.config = workdir / "scrape.yml"
        listed = ", ".join(f'"{t}"' for t in targets)
        self.config.write_text(f"global:\n  scrape_interval: {interval}\nscrape_configs:\n"
                               f"  - job_name: {job}\n    static_configs:\n      - targets: [{listed}]\n")
        self.vm = vm

    def command(self) -> list[str]:
        return [require("vmagent"), f"-promscrape.config={self.config}", f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-remoteWrite.url={self.vm.url}/api/v1/write", f"-remoteWrite.tmpDataPath={self.workdir / 'buffer'}",
                "-remoteWrite.flushInterval=100ms"]


class VmAlert(_Server):
    """Evaluates ``rule_files`` against VictoriaMetrics every ``interval``; recording rules' results
    are written back to it; alerts go to ``notifier_url`` (Alertmanager's API, v2)."""

    name = "vmalert"

    def __init__(self, workdir: Path, vm: VictoriaMetrics, rule_files: list[Path], notifier_url: str, *,
                 interval: str = "1s") -> None:
        super().__init__(workdir)
        self.vm, self.rule_files, self.notifier_url, self.interval = vm, rule_files, notifier_url, interval

    def command(self) -> list[str]:
        return [require("vmalert"), *(f"-rule={path}" for path in self.rule_files),
                f"-datasource.url={self.vm.url}", f"-remoteWrite.url={self.vm.url}",
                f"-notifier.url={self.notifier_url}", f"-evaluationInterval={self.interval}",
                f"-httpListenAddr=127.0.0.1:{self.port}", "-remoteWrite.flushInterval=100ms"]

    def alerts(self) -> list[dict[str, Any]]:
        """vmalert's active alerts (pending and firing), in Prometheus's ``/api/v1/alerts`` shape."""
        with urllib.request.urlopen(f"{self.url}/api/v1/alerts", timeout=10) as response:
            return list(json.load(response)["data"]["alerts"])


class AlertSink:
    """An Alertmanager stand-in for vmalert's notifier: records every alert posted to
    ``/api/v2/alerts``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/api/v2/alerts"):
                    with sink._lock:
                        sink.received.extend(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AlertSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self._server.shutdown()
        self._server.server_close()

    def firing(self) -> list[dict[str, Any]]:
        """Alerts notified as firing (no end time in the past)."""
        now = time.time()
        with self._lock:
            alerts = list(self.received)
        return [a for a in alerts if not a.get("endsAt") or _unix(a["endsAt"]) > now]


def _unix(stamp: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
