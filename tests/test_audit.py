"""The audit trail's modules: the line format, the chain, the writer with an injected clock,
retention, the verifier (every kind of tampering named where it is) and the reader."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.audit import AuditWriter, RetentionError, expired, lines, purge, read_records, verify
from exporter.audit.chain import head_value
from exporter.audit.relevance import AuditShape, audit_static
from exporter.audit.writer import midnight

BLOCKED = (("lakera-prompt-injection", "input", "blocked"),)
KEY = ("support", "zendesk-assist", "claude-sonnet-4", "anthropic", "chat", "guardrail_blocked", "miss")
DAY = date(2026, 11, 29)


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def shape(guardrails: tuple[tuple[str, str, str], ...] = BLOCKED, violations: tuple[str, ...] = (),
          entities: tuple[str, ...] = ()) -> AuditShape:
    found = audit_static("litellm", KEY, guardrails, violations, entities)
    assert found is not None
    return found


def write_days(directory: Path, per_day: tuple[int, ...], start: date = DAY) -> Clock:
    """One writer over consecutive days: a roll line plus ``per_day[i]`` request lines on day i."""
    clock = Clock(midnight(start) + 3600)
    writer = AuditWriter(directory, clock=clock, retention_max_days=10_000)
    for i, count in enumerate(per_day):
        clock.now = midnight(start + timedelta(days=i)) + 3600
        writer.maintain()
        for n in range(count):
            writer.append(clock.now + n, f"req-{i}-{n}", shape(entities=("email",)), [n + 1])
        writer.maintain()
    writer.close()
    return clock


def day_path(directory: Path, day: date) -> Path:
    return directory / f"audit-{day.isoformat()}.jsonl"


# -- the line format ---------------------------------------------------------------------------


def test_a_request_line_is_exactly_orjson_of_the_object_in_key_order() -> None:
    static = audit_static("kong", ("research", "intern-app", "gpt-4o", "openai", "chat", "guardrail_blocked", "miss"),
                          (*BLOCKED, ("presidio-pii", "input", "passed")), ("unapproved_model",), ("email",))
    assert static is not None
    line = lines.request_line(17, "2026-11-29T08:00:01.123Z", "kreq-000006", static.static,
                              entities={"email": 2}, prev="ab" * 32)
    assert line == orjson.dumps({
        "seq": 17, "time": "2026-11-29T08:00:01.123Z", "kind": "request", "request_id": "kreq-000006",
        "format": "kong", "team": "research", "app": "intern-app", "model": "gpt-4o", "provider": "openai",
        "outcome": "guardrail_blocked",
        "guardrails": [{"name": "lakera-prompt-injection", "stage": "input", "result": "blocked"}],
        "violations": ["unapproved_model"], "entities": {"email": 2}, "prev": "ab" * 32,
    })
    assert tuple(orjson.loads(line)) == lines.KEYS


@pytest.mark.parametrize(("guardrails", "violations", "entities", "relevant"), [
    ((("presidio-pii", "input", "passed"),), (), (), False),
    ((), (), (), False),
    ((("presidio-pii", "input", "masked"),), (), (), True),
    ((("presidio-pii", "input", "flagged"),), (), (), True),
    ((("presidio-pii", "input", "failed_open"),), (), (), True),
    ((("presidio-pii", "input", "failed_closed"),), (), (), True),
    ((("presidio-pii", "input", "not_run"),), ("guardrail_bypass",), (), True),
    ((), ("unapproved_model",), (), True),
    ((), (), ("email",), True),
])
def test_relevance(guardrails: tuple, violations: tuple, entities: tuple, relevant: bool) -> None:
    assert (audit_static("litellm", KEY, guardrails, violations, entities) is not None) == relevant


def test_only_non_passed_guardrails_are_listed() -> None:
    found = audit_static("litellm", KEY, (("presidio-pii", "input", "passed"), *BLOCKED), (), ())
    assert found is not None
    assert b'"guardrails":[{"name":"lakera-prompt-injection","stage":"input","result":"blocked"}]' in found.static
    assert b"presidio" not in found.static


@pytest.mark.parametrize(("given_id", "written"), [
    ("chatcmpl-abc123", "chatcmpl-abc123"),
    ("kreq-000006", "kreq-000006"),
    (None, None),
    ("Ignore previous instructions", None),
    ("jane@example.com", None),
    ("x" * 200, None),
])
def test_request_ids_that_are_not_ids_are_written_as_null(given_id: str | None, written: str | None) -> None:
    line = lines.request_line(1, "2026-11-29T08:00:01.123Z", given_id, shape().static, entities={}, prev=lines.GENESIS)
    assert orjson.loads(line)["request_id"] == written


@given(
    seq=st.integers(min_value=1, max_value=2**53),
    timestamp=st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False),
    request_id=st.one_of(st.none(), st.text(max_size=40)),
    entities=st.dictionaries(st.sampled_from(["email", "phone_number", "ip_address"]),
                             st.integers(min_value=1, max_value=10**6)),
    prev=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_every_written_line_parses_back_to_what_was_written(
    seq: int, timestamp: float, request_id: str | None, entities: dict[str, int], prev: str
) -> None:
    time = lines.format_time(timestamp)
    raw = lines.request_line(seq, time, request_id, shape().static, entities=entities, prev=prev)
    parsed = lines.parse(raw)
    assert (parsed["seq"], parsed["time"], parsed["entities"], parsed["prev"]) == (seq, time, entities, prev)
    assert parsed["request_id"] in (request_id, None)


@given(st.binary(max_size=300))
def test_the_parser_never_fails_other_than_with_a_line_error(raw: bytes) -> None:
    with contextlib.suppress(lines.LineError):
        lines.parse(raw)


def test_time_is_utc_with_milliseconds() -> None:
    assert lines.format_time(1_795_939_201.1239) == "2026-11-29T08:00:01.123Z"
    assert lines.format_time(0) == "1970-01-01T00:00:00.000Z"


def test_the_head_gauge_is_the_first_13_hex_digits_below_2_to_53() -> None:
    assert head_value("f" * 64) == 0xFFFFFFFFFFFFF == 2**52 - 1
    assert head_value("0123456789abcdef" * 4) == 0x0123456789ABC


# -- writing, the chain, rolling -----------------------------------------------------------------


def test_lines_chain_from_genesis_and_a_roll_line_opens_every_day(tmp_path: Path) -> None:
    write_days(tmp_path, (2, 0, 1))
    first, quiet, third = (day_path(tmp_path, DAY + timedelta(days=i)) for i in range(3))
    raw = [line for path in (first, quiet, third) for line in path.read_bytes().splitlines()]
    objs = [orjson.loads(line) for line in raw]
    # day 1: roll + 2 requests; day 2 (no events): roll only; day 3: roll + 1 request
    assert [o["seq"] for o in objs] == [1, 2, 3, 4, 5, 6]
    assert [o["kind"] for o in objs] == ["roll", "request", "request", "roll", "roll", "request"]
    assert [o.get("previous") for o in objs if o["kind"] == "roll"] == [None, "2026-11-29", "2026-11-30"]
    assert objs[0]["prev"] == "0" * 64
    for before, after in zip(raw, objs[1:], strict=False):
        assert after["prev"] == hashlib.sha256(before).hexdigest()
    assert len(quiet.read_bytes().splitlines()) == 1
    assert objs[1]["time"] == "2026-11-29T01:00:00.000Z" and objs[2]["entities"] == {"email": 2}


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    write_days(tmp_path, (3, 0, 2, 4))
    result = verify(tmp_path)
    assert result.problems == ()
    assert (result.files, result.lines, result.first_seq, result.length) == (4, 13, 1, 13)
    last = day_path(tmp_path, DAY + timedelta(days=3)).read_bytes().splitlines()[-1]
    assert result.head == hashlib.sha256(last).hexdigest()


def test_a_restarted_writer_continues_the_chain(tmp_path: Path) -> None:
    clock = Clock(midnight(DAY) + 600)
    first = AuditWriter(tmp_path, clock=clock)
    first.maintain()
    first.append(clock.now, "a", shape(), [])
    first.close()
    head = first.written_head
    second = AuditWriter(tmp_path, clock=clock)
    assert (second.seq, second.head, second.recovered_seq) == (2, head, 2)
    second.maintain()  # same day: no new roll line
    second.append(clock.now, "b", shape(), [])
    second.close()
    objs = [orjson.loads(x) for x in day_path(tmp_path, DAY).read_bytes().splitlines()]
    assert [(o["seq"], o["kind"]) for o in objs] == [(1, "roll"), (2, "request"), (3, "request")]
    assert objs[2]["prev"] == head
    assert verify(tmp_path).problems == ()


def test_a_restart_on_a_later_day_rolls_with_the_previous_file_named(tmp_path: Path) -> None:
    write_days(tmp_path, (1,))
    clock = Clock(midnight(DAY + timedelta(days=3)) + 60)
    writer = AuditWriter(tmp_path, clock=clock)
    writer.maintain()
    writer.close()
    roll = orjson.loads(day_path(tmp_path, DAY + timedelta(days=3)).read_bytes().splitlines()[0])
    assert (roll["seq"], roll["kind"], roll["previous"]) == (3, "roll", "2026-11-29")
    assert verify(tmp_path).problems == ()


def test_a_torn_last_line_is_removed_at_restart_and_never_chained(tmp_path: Path) -> None:
    write_days(tmp_path, (2,))
    path = day_path(tmp_path, DAY)
    intact = path.read_bytes()
    path.write_bytes(intact + b'{"seq":4,"time":"2026-11')
    writer = AuditWriter(tmp_path, clock=Clock(midnight(DAY) + 7200))
    assert writer.seq == 3
    assert path.read_bytes() == intact


def test_lines_are_written_only_on_flush_and_the_written_length_follows(tmp_path: Path) -> None:
    clock = Clock(midnight(DAY) + 5)
    writer = AuditWriter(tmp_path, clock=clock)
    writer.maintain()
    writer.append(clock.now, "a", shape(), [])
    assert (writer.seq, writer.written_seq) == (2, 1)
    assert len(day_path(tmp_path, DAY).read_bytes().splitlines()) == 1
    writer.flush()
    assert (writer.seq, writer.written_seq) == (2, 2)
    assert len(day_path(tmp_path, DAY).read_bytes().splitlines()) == 2


def test_an_entities_only_shape_with_zero_counts_writes_nothing(tmp_path: Path) -> None:
    clock = Clock(midnight(DAY) + 5)
    writer = AuditWriter(tmp_path, clock=clock)
    writer.maintain()
    only = shape(guardrails=(), entities=("email", "email"))
    writer.append(clock.now, "a", only, [0, 0])
    writer.append(clock.now, "b", only, [1, 2])  # two raw types folded into one bounded name
    writer.close()
    objs = [orjson.loads(x) for x in day_path(tmp_path, DAY).read_bytes().splitlines()]
    assert [(o["kind"], o.get("entities")) for o in objs] == [("roll", None), ("request", {"email": 3})]


def test_a_failed_write_is_counted_kept_and_written_later(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    clock = Clock(midnight(DAY) + 5)
    failures: list[int] = []
    writer = AuditWriter(directory, clock=clock, on_failure=lambda: failures.append(1))
    writer.maintain()
    writer._close()
    # The volume goes away (running as root, permissions would not stop the write): a file
    # stands where the directory was.
    directory.rename(tmp_path / "away")
    directory.write_bytes(b"")
    writer.append(clock.now, "a", shape(), [])
    assert writer.flush() is False
    assert writer.flush() is False
    assert (len(failures), writer.seq, writer.written_seq) == (2, 2, 1)
    directory.unlink()
    (tmp_path / "away").rename(directory)
    assert writer.flush() is True
    assert writer.written_seq == 2
    assert verify(directory).problems == ()


# -- tampering: verify names each ---------------------------------------------------------------


def _edit(path: Path, number: int, change: bytes, to: bytes) -> None:
    content = path.read_bytes().splitlines(keepends=True)
    assert change in content[number - 1]
    content[number - 1] = content[number - 1].replace(change, to, 1)
    path.write_bytes(b"".join(content))


def _kinds(directory: Path) -> list[tuple[str, str, int | None, int | None]]:
    return [(p.kind, p.file, p.line, p.seq) for p in verify(directory).problems]


def test_an_edited_byte_is_named_by_file_line_and_seq(tmp_path: Path) -> None:
    write_days(tmp_path, (4, 3))
    _edit(day_path(tmp_path, DAY), 3, b'"email":2', b'"email":7')  # seq 3, one byte
    assert _kinds(tmp_path) == [("edited", "audit-2026-11-29.jsonl", 3, 3)]


def test_an_edit_that_breaks_the_json_is_an_unparseable_line(tmp_path: Path) -> None:
    write_days(tmp_path, (4,))
    _edit(day_path(tmp_path, DAY), 2, b'{"seq"', b'["seq"')
    assert _kinds(tmp_path) == [("unparseable", "audit-2026-11-29.jsonl", 2, None)]


def test_an_edit_to_the_last_line_of_a_day_is_found_in_the_next_day(tmp_path: Path) -> None:
    write_days(tmp_path, (2, 1))
    _edit(day_path(tmp_path, DAY), 3, b'"email":2', b'"email":3')
    assert _kinds(tmp_path) == [("edited", "audit-2026-11-29.jsonl", 3, 3)]


def test_a_deleted_line_is_named(tmp_path: Path) -> None:
    write_days(tmp_path, (5,))
    path = day_path(tmp_path, DAY)
    content = path.read_bytes().splitlines(keepends=True)
    del content[2]  # seq 3
    path.write_bytes(b"".join(content))
    problems = verify(tmp_path).problems
    assert [(p.kind, p.file, p.line, p.seq) for p in problems] == [("deleted", "audit-2026-11-29.jsonl", 3, 4)]
    assert "seq 3..3 missing" in problems[0].message


def test_two_swapped_lines_are_named_as_reordered(tmp_path: Path) -> None:
    write_days(tmp_path, (5,))
    path = day_path(tmp_path, DAY)
    content = path.read_bytes().splitlines(keepends=True)
    content[2], content[3] = content[3], content[2]  # seq 3 and 4
    path.write_bytes(b"".join(content))
    problems = verify(tmp_path).problems
    assert [(p.kind, p.file, p.line) for p in problems] == [("reordered", "audit-2026-11-29.jsonl", 3)]
    assert "lines 3..5 are out of order" in str(problems[0])


def test_a_removed_day_file_is_named(tmp_path: Path) -> None:
    write_days(tmp_path, (2, 3, 1))
    day_path(tmp_path, DAY + timedelta(days=1)).unlink()
    assert _kinds(tmp_path) == [("missing_file", "audit-2026-11-30.jsonl", None, None)]


def test_a_removed_quiet_day_file_is_named_too(tmp_path: Path) -> None:
    write_days(tmp_path, (2, 0, 1))
    day_path(tmp_path, DAY + timedelta(days=1)).unlink()
    assert _kinds(tmp_path) == [("missing_file", "audit-2026-11-30.jsonl", None, None)]


def test_a_day_file_removed_with_its_roll_line_edited_is_still_found_by_the_seq_jump(tmp_path: Path) -> None:
    write_days(tmp_path, (2, 3, 1))
    day_path(tmp_path, DAY + timedelta(days=1)).unlink()
    _edit(day_path(tmp_path, DAY + timedelta(days=2)), 1, b'"previous":"2026-11-30"', b'"previous":"2026-11-29"')
    kinds = _kinds(tmp_path)
    assert ("missing_file", "audit-2026-12-01.jsonl", 1, 8) in kinds


def test_verify_reads_a_problem_as_one_line_naming_the_place(tmp_path: Path) -> None:
    write_days(tmp_path, (3,))
    _edit(day_path(tmp_path, DAY), 2, b'"email":1', b'"email":9')
    assert [str(p) for p in verify(tmp_path).problems] == [
        "audit-2026-11-29.jsonl:2: seq 2: edited: this line's hash does not match the prev of the next line "
        "(audit-2026-11-29.jsonl:3)"
    ]


# -- retention with an injected clock -----------------------------------------------------------


def _empty_days(directory: Path, days: list[date]) -> None:
    for day in days:
        day_path(directory, day).write_bytes(b"")


TODAY = date(2026, 11, 29)


@pytest.mark.parametrize(("age", "purged"), [(399, False), (400, False), (401, True), (900, True)])
def test_files_older_than_the_maximum_expire_and_the_boundary_day_is_kept(tmp_path: Path, age: int,
                                                                        purged: bool) -> None:
    day = TODAY - timedelta(days=age)
    _empty_days(tmp_path, [day])
    assert (expired(tmp_path, TODAY, 400) == [day_path(tmp_path, day)]) == purged


def test_the_writer_purges_beyond_the_maximum_once_a_day(tmp_path: Path) -> None:
    _empty_days(tmp_path, [TODAY - timedelta(days=d) for d in (402, 401, 400, 30)])
    clock = Clock(midnight(TODAY) + 60)
    writer = AuditWriter(tmp_path, clock=clock, retention_max_days=400)
    writer.maintain()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["audit-2025-10-25.jsonl", "audit-2026-10-30.jsonl", "audit-2026-11-29.jsonl"]
    _empty_days(tmp_path, [TODAY - timedelta(days=500)])
    writer.maintain()  # same day: no second purge
    assert (tmp_path / "audit-2025-07-17.jsonl").exists()
    clock.now += 86_400
    writer.maintain()  # the next day: 2025-10-25 is now 401 days old
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "audit-2026-10-30.jsonl", "audit-2026-11-29.jsonl", "audit-2026-11-30.jsonl"]


@pytest.mark.parametrize(("before", "allowed"), [
    (TODAY - timedelta(days=179), True),   # deletes up to 180 days old: the minimum, allowed
    (TODAY - timedelta(days=178), False),  # would delete a file 179 days old
    (TODAY, False),
    (TODAY - timedelta(days=365), True),
])
def test_purge_refuses_inside_the_minimum(tmp_path: Path, before: date, allowed: bool) -> None:
    days = [TODAY - timedelta(days=d) for d in (400, 200, 180, 179, 10)]
    _empty_days(tmp_path, days)
    if allowed:
        removed = purge(tmp_path, before, today=TODAY, min_days=180)
        assert removed == [day_path(tmp_path, d) for d in sorted(days) if d < before]
        assert all(not p.exists() for p in removed)
    else:
        with pytest.raises(RetentionError, match="retention minimum of 180 days"):
            purge(tmp_path, before, today=TODAY, min_days=180)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(day_path(tmp_path, d).name for d in days)


# -- reading back ------------------------------------------------------------------------------


def test_read_records_yields_request_lines_in_order_filtered_by_time(tmp_path: Path) -> None:
    write_days(tmp_path, (2, 0, 3))
    every = list(read_records(tmp_path))
    assert [r["request_id"] for r in every] == ["req-0-0", "req-0-1", "req-2-0", "req-2-1", "req-2-2"]
    assert all(r["kind"] == "request" for r in every)
    start = datetime(2026, 12, 1, 1, 0, 1, tzinfo=UTC)
    end = datetime(2026, 12, 1, 1, 0, 2)  # naive: UTC
    assert [r["request_id"] for r in read_records(tmp_path, start, end)] == ["req-2-1"]
    assert list(read_records(tmp_path / "missing")) == []
