"""Gateway adapters: one per record dialect, each turning one record's bytes into a GatewayEvent
or a Rejection. An adapter never raises, whatever the bytes.

``build_adapter(fmt, attribute_paths)`` builds one; ``attribute_paths`` are the record fields the
spec's attribution and classification rules read (see ``contract.fields.ATTRIBUTE_FIELDS``), and
they are the only raw strings an adapter copies into ``GatewayEvent.attributes``.
"""

from __future__ import annotations

from collections.abc import Iterable

from contract.fields import FORMATS, OTEL
from exporter.adapters import events, kong, litellm, otel
from exporter.adapters._common import ENTITY_TYPES, Adapter
from exporter.surrogates import tolerant

__all__ = ["ENTITY_TYPES", "Adapter", "build_adapter"]

_BUILDERS = {"litellm": litellm.build, "kong": kong.build, "events": events.build, OTEL: otel.build}
assert tuple(_BUILDERS) == (*FORMATS, OTEL)


def build_adapter(fmt: str, attribute_paths: Iterable[str]) -> Adapter:
    """The adapter for record format ``fmt`` (one of ``contract.fields.FORMATS``, taking a
    record's bytes, or ``OTEL``, taking an ``exporter.adapters.otel.SpanRecord``)."""
    builder = _BUILDERS.get(fmt)
    if builder is None:
        raise ValueError(f"unknown record format {fmt!r}: expected one of {', '.join(_BUILDERS)}")
    adapter = builder(frozenset(attribute_paths))
    # Spans arrive decoded (protobuf or OTLP/JSON), never as JSON text with escapes to retry.
    return adapter if fmt == OTEL else tolerant(adapter)
