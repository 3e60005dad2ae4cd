"""Splitting a posted body into records.

Gateways post one JSON object, a JSON array of them (LiteLLM's and Kong's batching HTTP
loggers) or NDJSON (one object per line, what file loggers write). Records come back as bytes,
unparsed: each adapter parses its record once, into only the fields it needs.
"""

from __future__ import annotations

import bisect
import functools
from typing import Any

import msgspec

from exporter.surrogates import mark_replaced, replace_lone_surrogates

_ONE_VALUE = msgspec.json.Decoder(msgspec.Raw)
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_NOT_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
# Splitting costs memory and time per record, so no more records than the limit (and one
# more, to know it was exceeded) are ever built: a body of millions of tiny records (what a
# decompression bomb expands to) is refused at the cost of parsing it, not of holding it.
# Arrays decode into a positional Struct with limit + 1 fields, which skips the elements past
# it; limits above this are checked after a plain decode instead (a Struct that wide is slow
# to build).
_MAX_POSITIONAL_FIELDS = 100_000
_ABSENT = msgspec.Raw()


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
        try:
            elements = _array(body, limit)
        except _NOT_JSON:
            array_refused = True  # NDJSON whose first line is an array, or not JSON at all
        else:
            return [bytes(element) for element in elements], False
    elif _is_json(body):
        return [body], False
    lines = [line for line in (raw.strip() for raw in _lines(body, limit)) if line]
    _refuse_over(len(lines), limit)
    return (lines if any(_is_json(line) for line in lines) else None), array_refused


def _array(body: bytes, limit: int | None) -> list[msgspec.Raw]:
    if limit is None or limit >= _MAX_POSITIONAL_FIELDS:
        elements = _ARRAY.decode(body)
        _refuse_over(len(elements), limit)
        return elements
    first = msgspec.structs.astuple(_bounded_array(limit).decode(body))
    if first[-1]:
        raise TooManyRecords(limit + 1, limit)
    return list(first[: bisect.bisect_left(first, True, key=lambda element: not element)])


@functools.lru_cache(maxsize=4)
def _bounded_array(limit: int) -> msgspec.json.Decoder[Any]:
    """Decodes the first ``limit + 1`` elements of a JSON array and only checks the rest."""
    fields = [(f"e{i}", msgspec.Raw, _ABSENT) for i in range(limit + 1)]
    return msgspec.json.Decoder(msgspec.defstruct("Elements", fields, array_like=True))


def _lines(body: bytes, limit: int | None) -> list[bytes]:
    """The body's lines, at most about twice the limit of them built (blank lines included)."""
    if limit is None:
        return body.splitlines()
    cap = 2 * limit + 2
    lines = body.split(b"\n", cap)
    if len(lines) > cap:  # more newlines than that: count the lines holding a record
        _refuse_over(_record_lines(body), limit)
        lines = body.split(b"\n")
    return lines


def _refuse_over(count: int, limit: int | None) -> None:
    if limit is not None and count > limit:
        raise TooManyRecords(count, limit)


def _record_lines(body: bytes) -> int:
    """Lines holding more than whitespace, counted without building them."""
    squeezed = body.translate(None, b" \t\r\x0b\x0c")
    while b"\n\n" in squeezed:  # each pass halves every run of blank lines
        squeezed = squeezed.replace(b"\n\n", b"\n")
    squeezed = squeezed.strip(b"\n")
    return squeezed.count(b"\n") + 1 if squeezed else 0
