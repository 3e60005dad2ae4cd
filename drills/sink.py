"""A local webhook sink standing in for every receiver: it records each notification Alertmanager
sends (the receiver's name is in the payload) and checks what every page must carry."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REQUIRED_ANNOTATIONS = ("runbook_url", "dashboard_url")
REQUIRED_LABELS = ("team", "severity")


@dataclass(frozen=True, slots=True)
class Notification:
    receiver: str
    status: str                       # "firing" | "resolved"
    alerts: tuple[dict[str, Any], ...]
    group_labels: Mapping[str, str]
    received_at: float                # unix seconds
    problems: tuple[str, ...]         # what the sink found missing or broken; empty when sound

    def alertnames(self) -> set[str]:
        return {a["labels"].get("alertname", "") for a in self.alerts}

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["labels"].get("alertname") == alertname and a["status"] == "firing"]


def runbook_file(url: str, base_url: str, runbooks_dir: Path) -> Path | None:
    """The rendered page a ``runbook_url`` points at, or None when it leads outside the runbooks."""
    prefix = base_url.rstrip("/") + "/"
    if not url.startswith(prefix):
        return None
    relative = url.removeprefix(prefix)
    if not relative or ".." in Path(relative).parts:
        return None
    return runbooks_dir / relative


def check(payload: Mapping[str, Any], base_url: str, runbooks_dir: Path) -> tuple[str, ...]:
    """Everything wrong with one webhook payload: a missing label or annotation, or a runbook link
    that does not resolve to a rendered page."""
    problems: list[str] = []
    alerts = payload.get("alerts") or []
    if not payload.get("receiver"):
        problems.append("no receiver name")
    if not alerts:
        problems.append("no alerts")
    for alert in alerts:
        labels, annotations = alert.get("labels") or {}, alert.get("annotations") or {}
        name = labels.get("alertname", "?")
        problems += [f"{name}: no {key} label" for key in REQUIRED_LABELS if not labels.get(key)]
        problems += [f"{name}: no {key} annotation" for key in REQUIRED_ANNOTATIONS if not annotations.get(key)]
        url = annotations.get("runbook_url")
        if url:
            page = runbook_file(url, base_url, runbooks_dir)
            if page is None or not page.is_file():
                problems.append(f"{name}: runbook_url {url} is not a rendered runbook")
    return tuple(problems)


class Sink:
    """``with Sink(base_url, runbooks_dir) as sink: ... sink.url ... sink.received()``."""

    def __init__(self, runbook_base_url: str, runbooks_dir: Path) -> None:
        self._base_url = runbook_base_url
        self._runbooks = runbooks_dir
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the sink is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/notify"

    def record(self, payload: Mapping[str, Any], at: float) -> Notification:
        notification = Notification(
            receiver=str(payload.get("receiver", "")),
            status=str(payload.get("status", "")),
            alerts=tuple(payload.get("alerts") or ()),
            group_labels=dict(payload.get("groupLabels") or {}),
            received_at=at,
            problems=check(payload, self._base_url, self._runbooks),
        )
        with self._lock:
            self._received.append(notification)
        return notification

    def received(self) -> list[Notification]:
        with self._lock:
            return list(self._received)

    def start(self) -> Sink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {}
                sink.record(payload, time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
