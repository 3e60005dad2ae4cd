"""Records holding a lone UTF-16 surrogate escape (``"\\ud83d"`` alone), valid JSON all the same.

Some serialisers write one for an emoji cut in half. The JSON decoder refuses it wherever it
appears, so one such escape in prompt text the exporter never reads would cost the record, and
inside a JSON array the whole batch. Only after a decode has failed (the common path pays
nothing) each lone surrogate escape is replaced by an escape of a noncharacter kept for internal
use, the same length, and the record decoded again: the record is counted unless a field it is
counted by (team, app, model, ...) holds that placeholder, and then only that record is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from exporter.event import GatewayEvent, Rejection

# U+FDD0 is a noncharacter, reserved for internal use: no text a gateway logs carries it.
PLACEHOLDER = "\ufdd0"
_PLACEHOLDER_ESCAPE = b"\\ufdd0"
# Escaped backslashes are consumed in pairs so "\\ud83d" (a backslash, then text) is left
# alone; a high surrogate followed by a low one is a valid pair and kept.
_ESCAPES = re.compile(
    rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)


class Replaced(bytes):
    """A record split from a body whose lone surrogate escapes were replaced (exporter.batch):
    the type says so, so the common path pays no search for the placeholder."""


REASON = "a field the record is counted by holds a lone UTF-16 surrogate escape (half of a character)"


def _replace(match: re.Match[bytes]) -> bytes:
    escape = match.group()
    return _PLACEHOLDER_ESCAPE if len(escape) == 6 else escape


def mark_replaced(records: list[bytes]) -> list[bytes]:
    """Records split from a replaced body, those holding the placeholder marked as such."""
    return [Replaced(r) if _PLACEHOLDER_ESCAPE in r else r for r in records]


def replace_lone_surrogates(data: bytes) -> bytes:
    """``data`` with every lone surrogate escape replaced by the placeholder's, same length."""
    return _ESCAPES.sub(_replace, data) if b"\\u" in data else data


def tolerant(adapter: Callable[[bytes], GatewayEvent | Rejection]) -> Callable[[bytes], GatewayEvent | Rejection]:
    """``adapter``, retried once on a record whose failure may be a lone surrogate escape."""

    def adapt(raw: bytes) -> GatewayEvent | Rejection:
        event = adapter(raw)
        if type(raw) is Replaced:
            return _checked(event)
        if type(event) is Rejection and b"\\u" in raw:
            replaced = replace_lone_surrogates(raw)
            if replaced != raw:
                return _checked(adapter(replaced))
        return event

    return adapt


def _checked(event: GatewayEvent | Rejection) -> GatewayEvent | Rejection:
    if type(event) is Rejection or not _holds_placeholder(event):  # type: ignore[arg-type]
        return event
    return Rejection(REASON)


def _holds_placeholder(event: GatewayEvent) -> bool:
    texts = [event.id or "", event.model, event.provider, event.operation, event.outcome,
             *event.attributes.keys(), *event.attributes.values(), *event.sensitive_entities,
             *(g.name for g in event.guardrails)]
    return any(PLACEHOLDER in text for text in texts)
