"""A small client for Prometheus's HTTP API (stdlib only).

Every failure a report can meet talking to Prometheus becomes a ``ReportError`` whose message
says what went wrong and where, so the CLI can print one line and exit non-zero instead of a
traceback: connection refused, unknown host, timeout, an HTTP or API error, or a bad answer.
"""

from __future__ import annotations

import contextlib
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any


class ReportError(Exception):
    """A report cannot be produced; the message is shown to the user as is."""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def no_data(url: str, start: float, end: float) -> ReportError:
    """The error for a period in which Prometheus holds no gatewatch data."""
    return ReportError(
        f"no gatewatch data between {_iso(start)} and {_iso(end)} in {url}: is the exporter scraped?"
    )


class PrometheusClient:
    """Queries one Prometheus server; ``url`` is its base address, e.g. http://localhost:9090."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        """Instant query at Unix time ``at``: ``[{"metric": {...}, "value": [ts, "v"]}, ...]``."""
        return self._result("/api/v1/query", {"query": expr, "time": _num(at)})

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Range query: ``[{"metric": {...}, "values": [[ts, "v"], ...]}, ...]``."""
        params = {"query": expr, "start": _num(start), "end": _num(end), "step": _num(step)}
        return self._result("/api/v1/query_range", params)

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        """Label sets of the series matching ``match`` that have samples in [start, end]."""
        params = {"match[]": match, "start": _num(start), "end": _num(end)}
        found: list[dict[str, str]] = self._data("/api/v1/series", params)
        return found

    def _result(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        data = self._data(path, params)
        if not isinstance(data, dict) or "result" not in data:
            raise ReportError(f"unexpected answer from {self.url}{path}: no result")
        if data.get("resultType") not in ("vector", "matrix"):
            raise ReportError(f"unexpected result type {data.get('resultType')!r} from {self.url}")
        result: list[dict[str, Any]] = data["result"]
        return result

    def _data(self, path: str, params: dict[str, str]) -> Any:
        body = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(
            self.url + path,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise ReportError(_http_message(self.url, err)) from None
        except urllib.error.URLError as err:
            raise ReportError(f"cannot reach Prometheus at {self.url}: {_reason(err.reason)}") from None
        except TimeoutError:
            raise ReportError(
                f"cannot reach Prometheus at {self.url}: no answer within {self.timeout:g} s"
            ) from None
        except (ConnectionError, OSError) as err:
            raise ReportError(f"cannot reach Prometheus at {self.url}: {_reason(err)}") from None
        except ValueError:
            raise ReportError(f"{self.url} did not answer with JSON: is it a Prometheus server?") from None
        if not isinstance(payload, dict) or payload.get("status") != "success":
            error = payload.get("error", "unknown error") if isinstance(payload, dict) else payload
            raise ReportError(f"Prometheus at {self.url} refused the query: {error}")
        return payload.get("data")


def _num(value: float) -> str:
    return f"{value:.3f}"


def _reason(reason: object) -> str:
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return str(getattr(reason, "strerror", None) or reason)


def _http_message(url: str, err: urllib.error.HTTPError) -> str:
    detail = ""
    with contextlib.suppress(ValueError, AttributeError, OSError):
        detail = json.loads(err.read()).get("error", "")
    suffix = f": {detail}" if detail else ""
    return f"Prometheus at {url} answered HTTP {err.code}{suffix}"
