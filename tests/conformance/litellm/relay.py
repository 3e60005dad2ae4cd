"""A capturing relay between LiteLLM's generic logger and the exporter.

It keeps every POST exactly as the proxy sent it (path, headers, body) and forwards it unchanged
to the exporter, answering with the exporter's answer. The ground truth of the conformance suite
is computed from these captures: what the proxy really posted, not what a test predicted.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int  # what the exporter answered


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Relay

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        prefix, _, rest = self.path.lstrip("/").partition("/")
        target = self.server.targets.get(prefix)
        status, answer = 404, b""
        if target is not None:
            host, port = target
            connection = http.client.HTTPConnection(host, port, timeout=30)
            forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            connection.request("POST", "/" + rest, body=body, headers=forwarded)
            response = connection.getresponse()
            status, answer = response.status, response.read()
            connection.close()
        with self.server.lock:
            self.server.posts.setdefault(prefix, []).append(Post("/" + rest, headers, body, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class Relay(ThreadingHTTPServer):
    """POST /<name>/<path> goes to ``targets[name]`` as POST /<path>, and is kept in ``posts[name]``."""

    daemon_threads = True

    def __init__(self, targets: dict[str, tuple[str, int]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.targets = targets
        self.lock = threading.Lock()
        self.posts: dict[str, list[Post]] = {}
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"

    def captured(self, name: str) -> list[Post]:
        with self.lock:
            return list(self.posts.get(name, ()))

    def close(self) -> None:
        self.shutdown()
        self.server_close()
