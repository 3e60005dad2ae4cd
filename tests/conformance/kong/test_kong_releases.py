"""The Kong adapter against every Kong release's log shape, fixture by fixture, and the support
matrix against the fixtures (docs/support-kong.md is rendered from the same data)."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from exporter.adapters import build_adapter
from exporter.event import GatewayEvent, Rejection
from tests.conformance.kong import support_doc
from tests.conformance.kong.fixtures import ATTRIBUTE_PATHS, FIXTURES_BY_RELEASE, RELEASES_DIR, Fixture
from tests.conformance.kong.matrix import ROWS, Row
from tests.conformance.kong.releases import RELEASE_KEYS

FLOATS = ("timestamp", "reported_cost_usd", "duration_seconds", "ttft_seconds")
EVENT_FIELDS = frozenset(f.name for f in msgspec.structs.fields(GatewayEvent))


def comparable(event: GatewayEvent | Rejection) -> GatewayEvent | Rejection:
    """Floats to the microsecond (Kong counts milliseconds) and guardrails in a fixed order."""
    if isinstance(event, Rejection):
        return event
    return msgspec.structs.replace(
        event,
        guardrails=tuple(sorted(event.guardrails, key=lambda g: (g.name, g.stage))),
        **{f: round(v, 9) for f in FLOATS if (v := getattr(event, f)) is not None},
    )


@pytest.fixture(scope="module")
def adapt():
    return build_adapter("kong", ATTRIBUTE_PATHS)


@pytest.mark.parametrize("fixture", FIXTURES_BY_RELEASE, ids=lambda f: f.id)
def test_fixture_becomes_the_event_kong_meant(adapt, fixture: Fixture) -> None:
    assert comparable(adapt(fixture.path.read_bytes())) == comparable(fixture.expected)


@pytest.mark.parametrize("fixture", FIXTURES_BY_RELEASE, ids=lambda f: f.id)
def test_nothing_identifying_leaves_the_entry(adapt, fixture: Fixture) -> None:
    entry = fixture.load()
    event = repr(adapt(fixture.path.read_bytes()))
    identifying = [entry["client_ip"], entry["request"]["url"], entry["route"]["id"]]
    if entry.get("consumer"):
        identifying.append(entry["consumer"]["id"])
    for section in (entry.get("ai") or {}).values():
        for guard in section.values() if isinstance(section, dict) else ():
            if isinstance(guard, dict):
                identifying += [v for k, v in guard.items() if k.endswith(("_uuid", "_consumer_id")) and len(v) > 8]
    for item in ((entry.get("ai") or {}).get("sanitizer") or {}).get("sanitized_items", []):
        identifying.append(item["original"])
    for value in identifying:
        assert value not in event


def test_every_fixture_file_is_in_the_table() -> None:
    on_disk = {f"{p.parent.name}/{p.stem}" for p in RELEASES_DIR.glob("*/*.json")}
    assert on_disk == {f.id for f in FIXTURES_BY_RELEASE}


def test_every_release_has_fixtures_and_every_fixture_a_release() -> None:
    assert {f.release for f in FIXTURES_BY_RELEASE} == set(RELEASE_KEYS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.log_field)
def test_every_matrix_cell_is_verified_by_a_fixture_that_carries_the_field(row: Row) -> None:
    assert row.event_field in EVENT_FIELDS
    assert set(row.releases) <= set(RELEASE_KEYS)
    for release in row.releases:
        assert support_doc.verifying(release, row.log_field, Fixture.load), (
            f"no {release} fixture carries {row.log_field}"
        )


def test_a_field_the_matrix_claims_is_really_looked_up() -> None:
    # The lookup the matrix relies on must be able to say no.
    entry = {"ai": {"proxy": {"usage": {"cost": 0}}, "sanitizer": {"sanitized_items": [{"entity_type": "EMAIL"}]}}}
    assert support_doc.carries(entry, "ai.proxy.usage.cost")
    assert support_doc.carries(entry, "ai.sanitizer.sanitized_items.entity_type")
    assert not support_doc.carries(entry, "ai.proxy.usage.prompt_tokens")
    assert not support_doc.carries(entry, "ai.ai-proxy.usage.cost")


def test_support_page_is_current() -> None:
    assert support_doc.DOC.read_text() == support_doc.render(), (
        "docs/support-kong.md is stale: run `python -m tests.conformance.kong.support_doc`"
    )


def test_fixture_table_entries_are_distinct() -> None:
    ids = [f.id for f in FIXTURES_BY_RELEASE]
    assert len(ids) == len(set(ids))
    assert all(dataclasses.is_dataclass(f) for f in FIXTURES_BY_RELEASE)
