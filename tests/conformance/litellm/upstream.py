"""A fake OpenAI-compatible provider on loopback, called through LiteLLM's real OpenAI path.

What it answers is chosen by a marker in the last user message (``[[429]]``, ``[[cut]]``, ...),
so every deployment keeps its real model name. Usage figures are fixed per marker, which lets a
test tell which answer a logged record came from; the ground truth is still read from what the
proxy logged, never from this table.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (prompt, completion, cached prompt, reasoning) tokens per answer kind.
USAGE = {
    "plain": (120, 40, 0, 0),
    "cached": (2048, 60, 1536, 0),
    "reasoning": (300, 900, 0, 700),
}
# Provider-shaped error bodies, as OpenAI sends them.
ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "429": (429, {"error": {"message": "Rate limit reached for requests", "type": "requests",
                            "param": None, "code": "rate_limit_exceeded"}}),
    "500": (500, {"error": {"message": "The server had an error while processing your request.",
                            "type": "server_error", "param": None, "code": None}}),
    "503": (503, {"error": {"message": "The engine is currently overloaded, please try again later.",
                            "type": "server_error", "param": None, "code": None}}),
    "400": (400, {"error": {"message": "This model's maximum context length is 128000 tokens.",
                            "type": "invalid_request_error", "param": "messages",
                            "code": "context_length_exceeded"}}),
}
# Longer than the deployment timeout the proxy config sets.
SLOW_SECONDS = 4.0
_MARKER = re.compile(r"\[\[(\w+)\]\]")


def _marker(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    text = json.dumps(messages[-1]) if messages else json.dumps(body.get("input", ""))
    found = _MARKER.search(text)
    return found.group(1) if found else "plain"


def _usage(kind: str) -> dict[str, Any]:
    prompt, completion, cached, reasoning = USAGE[kind]
    return {
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with self.server.lock:
            self.server.calls += 1
        marker = _marker(body)
        if marker in ERRORS:
            status, error = ERRORS[marker]
            self._json(status, error)
        elif marker == "slow":
            time.sleep(SLOW_SECONDS)
            self._json(200, self._completion(body, "plain"))
        elif self.path.endswith("/embeddings"):
            inputs = body.get("input")
            count = len(inputs) if isinstance(inputs, list) else 1
            self._json(200, {"object": "list", "model": body.get("model"),
                             "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                                      for i in range(count)],
                             "usage": {"prompt_tokens": 16 * count, "total_tokens": 16 * count}})
        elif body.get("stream"):
            self._stream(body, marker)
        else:
            kind = "reasoning" if str(body.get("model", "")).startswith("o") else marker
            self._json(200, self._completion(body, kind if kind in USAGE else "plain"))

    def _completion(self, body: dict[str, Any], kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-up{self.server.calls:06d}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model"), "system_fingerprint": "fp_conformance",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Here is the answer."}}],
            "usage": _usage(kind),
        }

    def _stream(self, body: dict[str, Any], marker: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        # Chunked, so a connection dropped mid-answer is an incomplete body the client notices.
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

        def send(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        ident = f"chatcmpl-up{self.server.calls:06d}"

        def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> None:
            data = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": body.get("model"), "choices": [] if usage else
                    [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if usage:
                data["usage"] = usage
            send(f"data: {json.dumps(data)}\n\n".encode())

        chunk({"role": "assistant", "content": ""})
        for word in ("Here ", "is ", "the "):
            chunk({"content": word})
        if marker == "cut":  # the provider drops the connection mid-answer, no final chunk
            self.close_connection = True
            return
        chunk({"content": "answer."}, "stop")
        kind = "reasoning" if str(body.get("model", "")).startswith("o") else marker
        chunk({}, usage=_usage(kind if kind in USAGE else "plain"))
        send(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.calls = 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
