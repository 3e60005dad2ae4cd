"""What the gateway adapters share: checked number types for decoder Structs, turning failures
into Rejections, decoding only the keys a spec asks for, and the sensitive-entity normaliser."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from exporter.event import GatewayEvent, Rejection

# Checked numbers for decoder Structs. msgspec enforces the bounds while it decodes, so a
# negative count or a NaN/infinite amount (lax mode turns the string "nan" into a float) is
# rejected with msgspec's own message and path, and needs no Python check afterwards.
Count = Annotated[int, msgspec.Meta(ge=0)]
_FLOAT_MAX = sys.float_info.max
Amount = Annotated[float, msgspec.Meta(ge=0, le=_FLOAT_MAX)]

# A field kept unparsed: only whether it is there matters, or a subclass built for a spec
# decodes it (see ``picker``).
ABSENT = msgspec.Raw()


class Decoded(msgspec.Struct, gc=False):
    """Base of the decoder Structs. Decoded JSON cannot form reference cycles, so the garbage
    collector need not track these: fewer tracked allocations per record, fewer collections."""


# OpenAI-style usage details, which both LiteLLM and Kong pass on.
class PromptTokensDetails(Decoded):
    cached_tokens: Count | None = None


class CompletionTokensDetails(Decoded):
    reasoning_tokens: Count | None = None


Adapter = Callable[[bytes], GatewayEvent | Rejection]


class RecordError(Exception):
    """Raised inside an adapter for a record it must reject; ``reason`` goes to the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def rejection(exc: Exception) -> Rejection:
    """The Rejection for an exception raised while normalising a record.

    Adapters catch every Exception around their whole body (one try per record, no wrapper
    call) and hand it here, so an adapter never raises and no reason names a record value.
    """
    if isinstance(exc, RecordError):
        return Rejection(exc.reason)
    if isinstance(exc, msgspec.DecodeError):  # ValidationError included
        return Rejection(_scrub(str(exc)))
    if isinstance(exc, UnicodeDecodeError):
        return Rejection("JSON is malformed: a string is not valid UTF-8")
    if isinstance(exc, RecursionError):
        return Rejection("JSON is malformed: nested too deeply")
    # A bug, not bad input; the class name helps find it, the message may hold values.
    return Rejection(f"record could not be normalised (internal error: {type(exc).__name__})")


ONE_OF_DOCUMENTED = "Expected one of the documented values"


def _scrub(message: str) -> str:
    # msgspec echoes the offending value only in "Invalid enum value 'x' - at `$.f`"-style
    # messages; keep the path, drop the value.
    if message.startswith("Invalid"):
        at = message.find(" - at `")
        return ONE_OF_DOCUMENTED + (message[at:] if at >= 0 else "")
    return message



def error_code(value: object) -> int:
    """An HTTP-ish status from ``429``, ``"429"`` or ``429.0``; 0 when there is none."""
    if isinstance(value, str):
        value = value.strip()
        return int(value) if 0 < len(value) <= 4 and value.isascii() and value.isdigit() else 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and 0 <= value < 10_000:
        return int(value)
    return 0


# Entity types as the PII engines name them, folded to one name each so that Presidio's
# EMAIL_ADDRESS and Kong's EMAIL count together. Keys are already normalised (lower snake case).
_ENTITY_SYNONYMS = {
    "email": "email",
    "email_address": "email",
    "phone": "phone_number",
    "phone_number": "phone_number",
    "credit_card": "credit_card",
    "credit_card_number": "credit_card",
    "us_ssn": "ssn",
    "ssn": "ssn",
    "ip": "ip_address",
    "ip_address": "ip_address",
    "person": "person",
    "name": "person",
    "iban": "iban",
    "iban_code": "iban",
    "location": "location",
    "address": "location",
}
# The folded names, in a stable order: what the metric's entity label is known to carry.
ENTITY_TYPES = tuple(dict.fromkeys(_ENTITY_SYNONYMS.values()))
_ENTITY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
ENTITY_NAME_MAX = 40
_entity_cache: dict[str, str] = {}
_ENTITY_CACHE_MAX = 4096  # entity names come from records: cap what they can make us remember


def entity_name(raw: str) -> str:
    """Normalise a PII entity type: lower snake case, synonyms folded, at most 40 characters."""
    name = _entity_cache.get(raw)
    if name is None:
        name = "".join(c if c in _ENTITY_CHARS else "_" for c in raw.lower())
        name = _ENTITY_SYNONYMS.get(name, name)[:ENTITY_NAME_MAX] or "unknown"
        if len(_entity_cache) < _ENTITY_CACHE_MAX:
            _entity_cache[raw] = name
    return name


def picker(name: str, wanted: dict[str, str]) -> tuple[Any, tuple[tuple[str, str], ...]]:
    """A decoder type for a JSON object of which only the ``wanted`` keys (``{key: path}``) are
    read, and the ``(path, attribute)`` pairs that read them from the decoded Struct.

    The decoder skips every other key without parsing it, so a value nobody asked for (an
    Authorization header, say) never becomes a Python object. Anything but an object decodes as
    itself and is not a Struct, so a drifted shape is ignored instead of failing the record.
    """
    attributes = tuple(f"k{i}" for i in range(len(wanted)))
    renames = dict(zip(attributes, wanted, strict=True))
    struct = msgspec.defstruct(name, [(a, Any, None) for a in attributes], bases=(Decoded,), rename=renames)
    return (
        struct | list[Any] | str | int | float | bool | None,
        tuple(zip(wanted.values(), attributes, strict=True)),
    )


def copy_strings(source: object, pairs: tuple[tuple[str, str], ...], attributes: dict[str, str]) -> None:
    """``attributes[path] = source.<attribute>`` for each ``(path, attribute)`` pair whose value is a
    non-empty string; ``source`` is a decoded Struct (anything else holds nothing to copy)."""
    if isinstance(source, msgspec.Struct):
        for path, attribute in pairs:
            value = getattr(source, attribute)
            if value.__class__ is str and value:
                attributes[path] = value


def wanted_under(prefix: str, paths: frozenset[str]) -> dict[str, str]:
    """``{key: path}`` for each requested path ``prefix + key``."""
    return {path[len(prefix):]: path for path in paths if path.startswith(prefix) and len(path) > len(prefix)}
