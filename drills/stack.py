"""The real stack for one drill, on loopback ports in one temporary directory: the exporter, a
Prometheus loaded with the generated prometheus.yml and rules, an Alertmanager loaded with the
generated routing whose receivers are all webhooks to a local sink.

Time is compressed by one factor everywhere it is configured: every rule window, ``offset`` and
``for`` (``alerts.timescale.compress``), and Alertmanager's ``group_wait``, ``group_interval`` and
``repeat_interval``, so a drill's alert reaches its receiver as it would, only ``factor`` times
sooner. Scrape and evaluation run every 250 ms. What cannot scale is listed in the timescale
module: ``time()`` arithmetic, per-hour conversions of rates, and the fixed latency of the
pipeline itself (a scrape, a rule evaluation, a notification), which a drill's real-time
equivalent multiplies by the factor.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from alerts import prometheus_rules, routing
from alerts.prometheus_config import ALERTING_RULES, Targets, prometheus_config
from alerts.timescale import compress, seconds
from alerts.yamlout import dump
from contract.spec import Spec
from drills import history
from drills.sink import Sink
from runbooks import render as runbooks

ROOT = Path(__file__).resolve().parent.parent
RESEND_DELAY_SECONDS = 60.0  # Prometheus's default --rules.alert.resend-delay
INTERVAL = "250ms"  # scrape and rule evaluation: the pipeline's own latency is what the factor cannot shrink
START_TIMEOUT = 30.0
ALERTING_FILE = f"prometheus/{ALERTING_RULES}"
_TIMERS = ("group_wait", "group_interval", "repeat_interval")
_LISTENING = re.compile(r"listening on http://(\S+):(\d+)")


class MissingBinaryError(RuntimeError):
    """Prometheus or Alertmanager is not on PATH."""


def binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise MissingBinaryError(f"{' / '.join(names)} not found on PATH: `make tools` installs it")


def prometheus_binary() -> str:
    return binary("prometheus")


def alertmanager_binary() -> str:
    return binary("prometheus-alertmanager", "alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- time compression of the Alertmanager configuration -------------------------------------------

def scale_timer(duration: str, factor: float) -> str:
    """An Alertmanager duration divided by ``factor``, in whole milliseconds (at least 1ms)."""
    millis = max(1, math.floor(seconds(duration) * 1000 / factor + 0.5))
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def compress_route(route: dict[str, Any], factor: float) -> dict[str, Any]:
    scaled = {key: scale_timer(str(value), factor) if key in _TIMERS else value for key, value in route.items()}
    if "routes" in route:
        scaled["routes"] = [compress_route(child, factor) for child in route["routes"]]
    return scaled


def alertmanager_files(spec: Spec, sink_url: str, factor: float) -> dict[str, str]:
    """The generated Alertmanager files, every receiver a webhook to ``sink_url``, timers compressed."""
    files = routing.render_with_webhook(spec, sink_url)
    config = yaml.safe_load(files["alertmanager/alertmanager.yml"])
    config["route"] = compress_route(config["route"], factor)
    files["alertmanager/alertmanager.yml"] = dump(config)
    return files


def rule_files(spec: Spec, factor: float) -> dict[str, str]:
    rendered = prometheus_rules.render(spec)
    return compress({p: t for p, t in rendered.items() if p.startswith("prometheus/rules/")}, factor)


def _write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _stop(process: subprocess.Popen[bytes] | None, *, kill: bool = False) -> None:
    if process is None or process.poll() is not None:
        return
    if kill:
        process.kill()
    else:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(15)


class Stack:
    """``with Stack(workdir, spec, spec_path, factor) as stack: ...``; everything it started stops on exit."""

    def __init__(self, workdir: Path, spec: Spec, spec_path: Path, factor: float,
                 history_rate: float | None = None) -> None:
        """``history_rate``: backfill a (compressed) week of ordinary traffic at this many records a
        second before Prometheus starts (drills/history.py); None for a stack without a past."""
        self.workdir = workdir
        self.spec = spec
        self.spec_path = spec_path
        self.factor = factor
        self.runbooks_dir = workdir / "runbooks"
        self.state_dir = workdir / "exporter-state"
        self.audit_dir = workdir / "audit"
        self.sink = Sink(spec.organization.runbook_base_url, self.runbooks_dir)
        self.exporter: subprocess.Popen[bytes] | None = None
        self.exporter_url = ""
        self.prometheus: subprocess.Popen[bytes] | None = None
        self.prometheus_url = ""
        self.alertmanager: subprocess.Popen[bytes] | None = None
        self.alertmanager_url = ""
        self._alerting_rules: dict[str, str] = {}
        self._history_rate = history_rate

    # -- lifecycle --

    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        _write(self.workdir, runbooks.render(self.spec))
        self.sink.start()
        try:
            self._start_exporter()
            self._start_alertmanager()
            if self._history_rate is not None:
                self._backfill(self._history_rate)
            self._start_prometheus()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in (self.prometheus, self.alertmanager, self.exporter):
            _stop(process)
        self.sink.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        with self._log(name).open("wb") as log:
            return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)

    def _serve(self, name: str, command: list[str], url: str) -> subprocess.Popen[bytes]:
        """Start a Prometheus or Alertmanager and wait until ``url``/-/ready answers."""
        process = self._spawn(name, command)

        def ready() -> bool:
            self._alive(name, process)
            return _ready(f"{url}/-/ready")

        try:
            wait_for(ready, timeout=START_TIMEOUT, what=f"{name} ready")
        except BaseException:
            _stop(process)
            raise
        return process

    def _alive(self, name: str, process: subprocess.Popen[bytes] | None) -> None:
        if process is None or process.poll() is not None:
            tail = self._log(name).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited:\n{tail}")

    def _start_exporter(self, listen: str = "127.0.0.1:0", name: str = "exporter") -> None:
        self.exporter = self._spawn(name, [
            sys.executable, "-m", "exporter", "--spec", str(self.spec_path), "--listen", listen,
            "--state-dir", str(self.state_dir), "--audit-dir", str(self.audit_dir), "--log-level", "info"])

        def listening() -> bool:
            self._alive(name, self.exporter)
            found = _LISTENING.search(self._log(name).read_text(errors="replace"))
            if found:
                self.exporter_url = f"http://127.0.0.1:{found.group(2)}"
            return found is not None

        wait_for(listening, timeout=START_TIMEOUT, what="the exporter to listen")
        wait_for(lambda: _ready(f"{self.exporter_url}/readyz"), timeout=START_TIMEOUT, what="the exporter ready")

    def _start_alertmanager(self) -> None:
        files = alertmanager_files(self.spec, self.sink.url, self.factor)
        _write(self.workdir, files)
        port = free_port()
        self.alertmanager_url = f"http://127.0.0.1:{port}"
        self.alertmanager = self._serve("alertmanager", [
            alertmanager_binary(), f"--config.file={self.workdir / 'alertmanager/alertmanager.yml'}",
            f"--storage.path={self.workdir / 'alertmanager-data'}", f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address="], self.alertmanager_url)

    def _backfill(self, rate: float) -> None:
        """A week of history into Prometheus's data directory: raw counters, then the recording
        rules over them, evaluated by promtool against a Prometheus serving the raw blocks."""
        data = self.workdir / "prometheus-data"
        data.mkdir(parents=True, exist_ok=True)
        promtool = binary("promtool")
        end = time.time()
        start = end - history.span(self.factor)
        history.write_raw(self.spec, rate, start=start, end=end, workdir=self.workdir, data_dir=data,
                          promtool=promtool)
        port = free_port()
        config = self.workdir / "history-prometheus.yml"
        config.write_text(dump({"global": {"scrape_interval": "1h"}}))
        url = f"http://127.0.0.1:{port}"
        server = self._serve("history-prometheus", [
            prometheus_binary(), f"--config.file={config}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d"], url)
        try:
            history.write_recorded(self.spec, self.factor, start=start, end=end, prometheus_url=url,
                                   workdir=self.workdir, data_dir=data, promtool=promtool)
        finally:
            _stop(server)

    def _start_prometheus(self) -> None:
        port = free_port()
        self.prometheus_url = f"http://127.0.0.1:{port}"
        targets = Targets(
            exporters=(self.exporter_url.removeprefix("http://"),), prometheus=f"127.0.0.1:{port}",
            alertmanager=self.alertmanager_url.removeprefix("http://"),
            scrape_interval=INTERVAL, evaluation_interval=INTERVAL)
        rules = rule_files(self.spec, self.factor)
        self._alerting_rules = {ALERTING_FILE: rules.pop(ALERTING_FILE)}
        _write(self.workdir, {"prometheus/prometheus.yml": dump(prometheus_config(self.spec, targets)),
                              **rules, ALERTING_FILE: dump({"groups": []})})
        self.prometheus = self._serve("prometheus", [
            prometheus_binary(), f"--config.file={self.workdir / 'prometheus/prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'prometheus-data'}", f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle", f"--rules.alert.resend-delay={self._resend_delay_seconds():g}s"],
            self.prometheus_url)
        wait_for(self.exporter_scraped, timeout=START_TIMEOUT, what="the exporter's first scrape")

    def _resend_delay_seconds(self) -> float:
        """Prometheus's one-minute resend delay, compressed like every other duration.

        A reload (``arm``) rebuilds the notifier's Alertmanager set, which discovery refills only
        after its throttle: an alert that fires in that gap is dropped and, uncompressed, sent
        again only a real minute later, long after the drill has judged the notifications.
        """
        return max(RESEND_DELAY_SECONDS / self.factor, 0.25)

    # -- during a drill --

    def arm(self) -> None:
        """Load the alerting rules (recording rules run from the start).

        Started cold, every "compared with its own past" rule sees a past of seconds: a new
        app's hourly rate is a sliver of its 5-minute rate (a runaway loop, by the rule), and the
        exporter is absent until Prometheus's first scrape, which its 5 s target-update throttle
        delays past the compressed ``for: 3m`` of GenAIExporterDown. A drill drives baseline
        traffic first and arms the alerts on the history it built, as a stack that has been
        running for a while would have.
        """
        _write(self.workdir, self._alerting_rules)
        request = urllib.request.Request(f"{self.prometheus_url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

        def loaded() -> bool:
            groups = _get_json(f"{self.prometheus_url}/api/v1/rules?type=alert")["data"]["groups"]
            return bool(groups)

        wait_for(loaded, timeout=START_TIMEOUT, what="the alerting rules to load")

    def kill_exporter(self) -> None:
        """SIGKILL, like a crash or an OOM kill."""
        _stop(self.exporter, kill=True)

    def restart_exporter(self) -> None:
        """Start the exporter again on its old port, from its state directory, as a supervisor would."""
        self._start_exporter(listen=self.exporter_url.removeprefix("http://"), name="exporter-restarted")

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        result: list[dict[str, Any]] = _get_json(url)["data"]["result"]
        return result

    def exporter_scraped(self) -> bool:
        return any(r["value"][1] == "1" for r in self.query('up{job="gatewatch"}'))

    def alerts(self) -> list[dict[str, Any]]:
        """Prometheus's active alerts (pending and firing)."""
        found: list[dict[str, Any]] = _get_json(f"{self.prometheus_url}/api/v1/alerts")["data"]["alerts"]
        return found

    def rule_failures(self) -> float:
        """Rule evaluations that failed so far: a compressed rule Prometheus cannot evaluate."""
        return sum(float(r["value"][1]) for r in self.query("prometheus_rule_evaluation_failures_total"))
