"""Splitting a posted body into records.

Gateways post one JSON object, a JSON array of them (LiteLLM's and Kong's batching HTTP
loggers) or NDJSON (one object per line, what file loggers write). Records come back as bytes,
unparsed: each adapter parses its record once, into only the fields it needs.
"""

from __future__ import annotations

import re

import msgspec

from exporter.surrogates import mark_replaced, replace_lone_surrogates

_ONE_VALUE = msgspec.json.Decoder(msgspec.Raw)
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_NOT_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
# Splitting costs memory and time per record, so the record limit is checked before it. A
# separator (comma, newline) bounds the record count from above; only when separators are this
# dense (tiny records, what a decompression bomb expands to) are records counted exactly first.
_DENSE_BYTES_PER_SEPARATOR = 32
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_INNERMOST = re.compile(rb"[{\[][^{}\[\]]*[}\]]")
_MAX_COLLAPSE_DEPTH = 64
_CR_AS_NEWLINE = bytes.maketrans(b"\r", b"\n")


class TooManyRecords(Exception):  # noqa: N818 - named for what the sender did
    """The body holds more records than the limit; ``count`` is at least that many."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} records, limit {limit}")
        self.count = count
        self.limit = limit


def _is_json(data: bytes) -> bool:
    try:
        _ONE_VALUE.decode(data)
    except _NOT_JSON:
        return False
    return True


def split_body(body: bytes, max_records: int | None = None) -> list[bytes] | None:
    """The records in ``body``, or None when it is empty or not JSON in any of those shapes.

    A line or element that is not a valid record still comes back, so the adapter rejects it
    with a reason and the sender learns which one was bad. A JSON array the decoder refuses only
    for lone surrogate escapes is split all the same (see ``exporter.surrogates``). More than
    ``max_records`` records raise TooManyRecords, before they are split when that is cheap to tell.
    """
    records, array_refused = _split(body, max_records)
    if (records is None or array_refused) and b"\\u" in body:
        replaced = replace_lone_surrogates(body)
        if replaced != body:
            split, _ = _split(replaced, max_records)
            return records if split is None else mark_replaced(split)
    return records


def _split(body: bytes, limit: int | None) -> tuple[list[bytes] | None, bool]:
    """The records, and whether the body looked like a JSON array the decoder refused."""
    body = body.strip()
    if not body:
        return None, False
    array_refused = False
    if body[:1] == b"[":
        if limit is not None and _dense(body, body.count(b","), limit):
            _refuse_over(_array_elements(body), limit)
        try:
            elements = _ARRAY.decode(body)
        except _NOT_JSON:
            array_refused = True  # NDJSON whose first line is an array, or not JSON at all
        else:
            _refuse_over(len(elements), limit)
            return [bytes(element) for element in elements], False
    elif _is_json(body):
        return [body], False
    if limit is not None and _dense(body, body.count(b"\n"), limit):
        _refuse_over(_lines(body), limit)
    lines = [line for line in (raw.strip() for raw in body.splitlines()) if line]
    _refuse_over(len(lines), limit)
    return (lines if any(_is_json(line) for line in lines) else None), array_refused


def _dense(body: bytes, separators: int, limit: int) -> bool:
    return separators >= limit and len(body) < _DENSE_BYTES_PER_SEPARATOR * (separators + 1)


def _refuse_over(count: int | None, limit: int | None) -> None:
    if count is not None and limit is not None and count > limit:
        raise TooManyRecords(count, limit)


def _lines(body: bytes) -> int:
    """Lines holding more than whitespace (as bytes.splitlines splits), counted without them."""
    squeezed = body.translate(_CR_AS_NEWLINE, b" \t\x0b\x0c")
    while b"\n\n" in squeezed:  # each pass halves every run of blank lines
        squeezed = squeezed.replace(b"\n\n", b"\n")
    squeezed = squeezed.strip(b"\n")
    return squeezed.count(b"\n") + 1 if squeezed else 0


def _array_elements(body: bytes) -> int | None:
    """The top-level elements of a JSON array, counted without building them: strings are
    blanked, then innermost brackets collapsed until one level is left. None when too deep."""
    flat = _STRING.sub(b'""', body)[1:-1]
    for _ in range(_MAX_COLLAPSE_DEPTH):
        collapsed = _INNERMOST.sub(b"0", flat)
        if len(collapsed) == len(flat):
            return flat.count(b",") + 1 if flat.strip() else 0
        flat = collapsed
    return None
