"""Splitting a posted body into records.

Gateways post one JSON object, a JSON array of them (LiteLLM's and Kong's batching HTTP
loggers) or NDJSON (one object per line, what file loggers write). Records come back as bytes,
unparsed: each adapter parses its record once, into only the fields it needs.
"""

from __future__ import annotations

import msgspec

from exporter.surrogates import replace_lone_surrogates

_ONE_VALUE = msgspec.json.Decoder(msgspec.Raw)
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_NOT_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def _is_json(data: bytes) -> bool:
    try:
        _ONE_VALUE.decode(data)
    except _NOT_JSON:
        return False
    return True


def split_body(body: bytes) -> list[bytes] | None:
    """The records in ``body``, or None when it is empty or not JSON in any of those shapes.

    A line or element that is not a valid record still comes back, so the adapter rejects it
    with a reason and the sender learns which one was bad. A JSON array the decoder refuses only
    for lone surrogate escapes is split all the same (see ``exporter.surrogates``).
    """
    records = _split(body)
    if b"\\u" in body and (records is None or (body.lstrip()[:1] == b"[" and not _is_array(body))):
        replaced = replace_lone_surrogates(body)
        if replaced != body:
            return _split(replaced) or records
    return records


def _is_array(data: bytes) -> bool:
    try:
        _ARRAY.decode(data)
    except _NOT_JSON:
        return False
    return True


def _split(body: bytes) -> list[bytes] | None:
    body = body.strip()
    if not body:
        return None
    if body[:1] == b"[":
        try:
            return [bytes(element) for element in _ARRAY.decode(body)]
        except _NOT_JSON:
            pass  # NDJSON whose first line is an array, or not JSON at all
    elif _is_json(body):
        return [body]
    lines = [line for line in (raw.strip() for raw in body.splitlines()) if line]
    return lines if any(_is_json(line) for line in lines) else None
