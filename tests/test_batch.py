"""Splitting a posted body into records: one object, a JSON array, or NDJSON."""

from __future__ import annotations

import pytest

from exporter.batch import split_body
from tests.paths import LITELLM_FIXTURE


def test_one_object() -> None:
    assert split_body(b'{"a": 1}') == [b'{"a": 1}']
    assert split_body(b'\n  {"a": 1}\r\n') == [b'{"a": 1}']
    pretty = b'{\n  "a": 1,\n  "b": [1, 2]\n}\n'
    assert split_body(pretty) == [pretty.strip()]


def test_array_elements_come_back_as_they_were_sent() -> None:
    body = b'[{"a": 1}, {"b": {"c": [1, 2]}} ,\n"text", 3, [4]]'
    assert split_body(body) == [b'{"a": 1}', b'{"b": {"c": [1, 2]}}', b'"text"', b"3", b"[4]"]
    assert split_body(b"[]") == []
    assert split_body(b"  [ ]  ") == []


def test_array_of_fixture_records() -> None:
    lines = [line for line in LITELLM_FIXTURE.read_bytes().splitlines() if line.strip()]
    assert split_body(b"[" + b",".join(lines) + b"]") == lines


def test_ndjson_keeps_broken_lines_and_skips_blank_ones() -> None:
    body = b'{"a": 1}\n\n   \n{"b": 2}\r\n{"broken": \n[1, 2]\n{"c": 3}\n'
    assert split_body(body) == [b'{"a": 1}', b'{"b": 2}', b'{"broken":', b"[1, 2]", b'{"c": 3}']


def test_ndjson_whose_first_line_is_an_array() -> None:
    assert split_body(b'[1, 2]\n{"a": 1}') == [b"[1, 2]", b'{"a": 1}']


def test_ndjson_with_invalid_utf8_in_one_line() -> None:
    assert split_body(b'{"a": "\xff"}\n{"b": 1}') == [b'{"a": "\xff"}', b'{"b": 1}']


def test_a_single_scalar_is_a_record_for_the_adapter_to_reject() -> None:
    assert split_body(b"42") == [b"42"]


def test_string_contents_are_left_to_the_adapter() -> None:
    # Splitting checks the structure only; the adapter rejects bad UTF-8 in a field it reads.
    assert split_body(b'{"a": "\xff"}') == [b'{"a": "\xff"}']


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n\t\r\n ",
        b"not json",
        b"not json\nstill not\n",
        b"\x00\xff\xfe garbage",
        b'{"a": 1',
        b'[{"a": 1}',
        b"[" * 10_000,
    ],
)
def test_no_json_at_all(body: bytes) -> None:
    assert split_body(body) is None
