"""A fake OpenAI-compatible upstream on loopback that serves scripted answers and records what
it served: the ground truth the OTLP producer tests compare /metrics with.

The model name carries the script, so a producer needs no side channel: ``gpt-4o-mini`` answers
200, ``fail-429`` / ``fail-500`` / ``fail-400`` answer that status, ``slow-gpt-4o-mini`` answers
after ``SLOW_SECONDS``. Usage figures come from ``USAGE`` per model, so every answer is known.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLOW_SECONDS = 0.6
# model -> (prompt, completion, cached, reasoning) tokens served.
USAGE = {
    "gpt-4o-mini": (120, 30, 64, 0),
    "slow-gpt-4o-mini": (10, 5, 0, 0),
    "o3": (200, 100, 0, 60),
    "text-embedding-3-small": (40, 0, 0, 0),
}
_FAILURES = {"fail-429": 429, "fail-500": 500, "fail-400": 400}


@dataclass(frozen=True)
class Served:
    path: str
    model: str
    status: int
    streaming: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass
class FakeOpenAI:
    server: ThreadingHTTPServer
    served: list[Served] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start() -> FakeOpenAI:
    fake: FakeOpenAI

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            model = str(body.get("model", ""))
            streaming = bool(body.get("stream"))
            status = _FAILURES.get(model, 200)
            if status != 200:
                fake.served.append(Served(self.path, model, status, streaming))
                payload = {"error": {"message": "scripted failure", "type": "scripted", "code": str(status)}}
                self._send(status, json.dumps(payload).encode(), "application/json")
                return
            if model.startswith("slow-"):
                time.sleep(SLOW_SECONDS)
            prompt, completion, cached, reasoning = USAGE[model]
            with fake.lock:
                fake.served.append(Served(self.path, model, 200, streaming, prompt, completion, cached, reasoning))
            usage = {
                "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached},
                "completion_tokens_details": {"reasoning_tokens": reasoning},
            }
            if self.path.endswith("/embeddings"):
                answer = {"object": "list", "model": model, "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
                          "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}]}
                self._send(200, json.dumps(answer).encode(), "application/json")
            elif streaming:
                self._stream(model, usage)
            else:
                answer = {
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "fine"}}],
                    "usage": usage,
                }
                self._send(200, json.dumps(answer).encode(), "application/json")

        def _stream(self, model: str, usage: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
                    "model": model}
            chunks = [
                {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "fi"}}]},
                {**base, "choices": [{"index": 0, "delta": {"content": "ne"}, "finish_reason": "stop"}]},
                {**base, "choices": [], "usage": usage},
            ]
            for chunk in chunks:
                self._chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake = FakeOpenAI(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake
