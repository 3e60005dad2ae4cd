"""The exporter as a real subprocess for tests: start, wait ready, post, scrape, stop.

Every process listens on a loopback port the kernel picks (``--listen 127.0.0.1:0``); the helper
reads the bound address from the exporter's "listening on" log line, so two tests never race for
a port. Logs go to files under the test's directory, where tests can search them.
"""

from __future__ import annotations

import gzip as gzip_module
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.paths import EXAMPLE_SPEC, ROOT

Series = tuple[str, frozenset[tuple[str, str]]]
Metrics = dict[Series, float]

START_TIMEOUT = 30.0
_LISTENING = re.compile(r"listening on http://(\S+):(\d+)")


def wait_for(check: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition",
             interval: float = 0.05) -> None:
    """Poll ``check`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any ingest token, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "GATEWATCH_INGEST_TOKEN"}
    env.update(extra)
    return env


def spec_variant(directory: Path, replacements: Mapping[str, str] | None = None,
                 name: str = "ops.yaml") -> Path:
    """A copy of the example spec with text replacements applied (each must match)."""
    text = EXAMPLE_SPEC.read_text()
    for old, new in (replacements or {}).items():
        if old not in text:
            raise AssertionError(f"spec_variant: {old!r} is not in the example spec")
        text = text.replace(old, new)
    path = directory / name
    path.write_text(text)
    return path


@dataclass
class Exporter:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    host: str = "127.0.0.1"
    port: int = 0
    returncode: int | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.returncode = self.process.wait(timeout)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL: no final snapshot, no clean-up, like a crash or an OOM kill."""
        if self.process.poll() is None:
            self.process.kill()
        self.returncode = self.process.wait(30)

    def scrape(self) -> Metrics:
        return scrape(self.url)

    def post(self, fmt: str, body: bytes, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        return post(self.url, f"/ingest/{fmt}", body, headers)


def launch(directory: Path, *args: str | os.PathLike[str], spec: Path = EXAMPLE_SPEC,
           env: Mapping[str, str] | None = None, listen: str = "127.0.0.1:0",
           log_level: str = "debug") -> Exporter:
    """Start ``python -m exporter`` without waiting (for tests of start-up failures)."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.monotonic_ns()}"
    stdout, stderr = directory / f"exporter-{stamp}.out", directory / f"exporter-{stamp}.err"
    command = [sys.executable, "-m", "exporter", "--spec", str(spec), "--listen", listen,
               "--log-level", log_level, *map(str, args)]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err,
                                   env=dict(env) if env is not None else clean_env())
    return Exporter(process, stdout, stderr)


def start_exporter(directory: Path, *args: str | os.PathLike[str], spec: Path = EXAMPLE_SPEC,
                   env: Mapping[str, str] | None = None, log_level: str = "debug") -> Exporter:
    """Start the exporter and return once /readyz answers 200."""
    exporter = launch(directory, *args, spec=spec, env=env, log_level=log_level)
    try:
        wait_ready(exporter)
    except BaseException:
        exporter.kill()
        raise
    return exporter


def wait_ready(exporter: Exporter, timeout: float = START_TIMEOUT) -> None:
    def bound() -> bool:
        if exporter.process.poll() is not None:
            raise AssertionError(f"exporter exited with {exporter.process.returncode}:\n{exporter.log()[-3000:]}")
        found = _LISTENING.search(exporter.stderr.read_text(errors="replace"))
        if found:
            host = found.group(1)
            # Listening on every interface: reach it over loopback.
            exporter.host = "127.0.0.1" if host == "0.0.0.0" else host
            exporter.port = int(found.group(2))
        return found is not None

    wait_for(bound, timeout=timeout, what="the exporter to listen")
    wait_for(lambda: request(exporter.url, "GET", "/readyz")[0] == 200, timeout=timeout,
             what="/readyz to answer 200")


def request(url: str, method: str, path: str, body: bytes | None = None,
            headers: Mapping[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    """One HTTP request; returns (status, body, headers). Connection errors count as status 0."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    except ConnectionError:
        return 0, b"", {}
    finally:
        connection.close()


def post(url: str, path: str, body: bytes, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
    """POST ``body``; returns (status, decoded JSON answer or None)."""
    status, answer, _ = request(url, "POST", path, body, headers)
    try:
        return status, json.loads(answer)
    except ValueError:
        return status, None


def post_json(url: str, fmt: str, payload: Any, *, gzip: bool = False,
              headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
    """POST ``payload`` as JSON to /ingest/<fmt>, optionally gzip-compressed."""
    body = json.dumps(payload).encode()
    sent = dict(headers or {})
    if gzip:
        body = gzip_module.compress(body)
        sent["Content-Encoding"] = "gzip"
    sent.setdefault("Content-Type", "application/json")
    return post(url, f"/ingest/{fmt}", body, sent)


def ndjson(records: Iterable[Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def scrape(url: str) -> Metrics:
    status, body, _ = request(url, "GET", "/metrics")
    if status != 200:
        raise AssertionError(f"/metrics answered {status}")
    return parse_metrics(body.decode())


def scrape_text(url: str) -> str:
    return request(url, "GET", "/metrics")[1].decode()


# -- the text exposition format ---------------------------------------------------------------

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def parse_metrics(text: str) -> Metrics:
    """Text format 0.0.4 -> {(sample name, frozenset(labels.items())): value}."""
    samples: Metrics = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        try:
            name, labels, rest = _split_sample(line)
            value = float(rest.split()[0])
        except (ValueError, IndexError) as err:
            raise AssertionError(f"line {number} is not a sample: {line!r} ({err})") from None
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise AssertionError(f"line {number}: duplicate series {line!r}")
        samples[key] = value
    return samples


def _split_sample(line: str) -> tuple[str, dict[str, str], str]:
    brace = line.find("{")
    space = line.find(" ")
    if brace < 0 or (0 <= space < brace):
        return line[:space], {}, line[space + 1 :]
    name, i = line[:brace], brace + 1
    labels: dict[str, str] = {}
    while line[i] != "}":
        eq = line.index("=", i)
        label = line[i:eq].strip().lstrip(",").strip()
        if line[eq + 1] != '"':
            raise ValueError("label value must be quoted")
        i, value = eq + 2, []
        while line[i] != '"':
            if line[i] == "\\":
                value.append(_ESCAPES[line[i + 1]])
                i += 2
            else:
                value.append(line[i])
                i += 1
        labels[label] = "".join(value)
        i += 1
        if line[i] == ",":
            i += 1
    return name, labels, line[i + 1 :].strip()


def total(metrics: Metrics, name: str, **labels: str) -> float:
    """Sum of every ``name`` series whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and wanted <= ls)


def by_label(metrics: Metrics, name: str, label: str, **labels: str) -> dict[str, float]:
    """``name`` summed per value of ``label`` over series matching ``labels``."""
    wanted = set(labels.items())
    sums: dict[str, float] = {}
    for (n, ls), v in metrics.items():
        if n == name and wanted <= ls:
            key = dict(ls).get(label, "")
            sums[key] = sums.get(key, 0.0) + v
    return sums


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def files_under(directory: Path) -> Sequence[Path]:
    return [p for p in sorted(directory.rglob("*")) if p.is_file()]
