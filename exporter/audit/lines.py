"""The audit line format: one compact JSON object per line, keys in a fixed order.

    {"seq":17,"time":"2026-11-29T08:00:01.123Z","kind":"request","request_id":"chatcmpl-abc",
     "format":"litellm","team":"search","app":"search-chat","model":"gpt-4o","provider":"openai",
     "outcome":"guardrail_blocked","guardrails":[{"name":"lakera-prompt-injection","stage":"input",
     "result":"blocked"}],"violations":["unapproved_model"],"entities":{"email":2},"prev":"<64 hex>"}

A ``roll`` line opens every day file: ``{"seq":18,"time":...,"kind":"roll","previous":"2026-11-28",
"prev":...}``, where ``previous`` is the date of the file before it in the chain (null for the
first file ever), so a verifier can name a day file that went missing.

The request part that depends only on a request's shape is encoded once per shape (``static``);
a line then costs a few byte concatenations. The result is byte-identical to ``orjson.dumps`` of
the whole object in key order, which tests check.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import orjson

GENESIS = "0" * 64
REQUEST = "request"
ROLL = "roll"
KEYS = ("seq", "time", "kind", "request_id", "format", "team", "app", "model", "provider", "outcome",
        "guardrails", "violations", "entities", "prev")
ROLL_KEYS = ("seq", "time", "kind", "previous", "prev")
# Request ids are the gateway's own; one that does not look like an id (text, spaces, an address)
# is written as null, so free text a client managed to put there never reaches the log.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def format_time(timestamp: float) -> str:
    """Unix seconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, milliseconds): sorts as it reads."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def time_key(moment: datetime) -> str:
    """``moment`` in the line's time format, for string comparison (a naive datetime is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment.timestamp())


def safe_request_id(request_id: str | None) -> str | None:
    if request_id is not None and _REQUEST_ID.match(request_id):
        return request_id
    return None


def static_part(
    *, fmt: str, team: str, app: str, model: str, provider: str, outcome: str,
    guardrails: tuple[tuple[str, str, str], ...], violations: tuple[str, ...],
) -> bytes:
    """``"format":...,"violations":[...]``: the bytes every request of one shape shares."""
    body = orjson.dumps({
        "format": fmt, "team": team, "app": app, "model": model, "provider": provider, "outcome": outcome,
        "guardrails": [{"name": name, "stage": stage, "result": result} for name, stage, result in guardrails],
        "violations": list(violations),
    })
    return body[1:-1]


def request_line(seq: int, time: str, request_id: str | None, static: bytes, *, entities: dict[str, int],
                 prev: str) -> bytes:
    """One request line, without its newline."""
    return b'{"seq":%d,"time":"%s","kind":"request","request_id":%s,%s,"entities":%s,"prev":"%s"}' % (
        seq, time.encode(), orjson.dumps(safe_request_id(request_id)), static, orjson.dumps(entities),
        prev.encode(),
    )


def roll_line(seq: int, time: str, previous: date | None, prev: str) -> bytes:
    """The line that opens a day file, without its newline."""
    return orjson.dumps({
        "seq": seq, "time": time, "kind": ROLL, "previous": previous.isoformat() if previous else None, "prev": prev,
    })


class LineError(ValueError):
    """A line that is not a well-formed audit line; the message says what is wrong, never its text."""


def parse(raw: bytes) -> dict[str, Any]:
    """The object of one line (without newline), checked for the keys and types its kind needs."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise LineError("not JSON") from None
    if not isinstance(obj, dict):
        raise LineError("not a JSON object")
    kind = obj.get("kind")
    keys = KEYS if kind == REQUEST else ROLL_KEYS if kind == ROLL else None
    if keys is None:
        raise LineError("unknown kind")
    if tuple(obj) != keys:
        raise LineError("keys missing, extra or out of order")
    seq = obj["seq"]
    if type(seq) is not int or seq < 1:
        raise LineError("seq is not a positive integer")
    if not isinstance(obj["time"], str) or not _TIME.match(obj["time"]):
        raise LineError("time is not YYYY-MM-DDTHH:MM:SS.mmmZ")
    if not isinstance(obj["prev"], str) or not _HEX64.match(obj["prev"]):
        raise LineError("prev is not 64 hex digits")
    return obj
