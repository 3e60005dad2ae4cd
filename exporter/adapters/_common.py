"""What the gateway adapters share: the never-raise wrapper, checked number types and the
sensitive-entity name normaliser."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import msgspec

from exporter.event import GatewayEvent, Rejection

# Checked numbers for decoder Structs. msgspec enforces the bounds while it decodes, so a
# negative count or a NaN/infinite amount (lax mode turns the string "nan" into a float) is
# rejected with msgspec's own message and path, and needs no Python check afterwards.
Count = Annotated[int, msgspec.Meta(ge=0)]
_FLOAT_MAX = sys.float_info.max
Amount = Annotated[float, msgspec.Meta(ge=0, le=_FLOAT_MAX)]

# An optional field that is kept unparsed until an attribute path asks for it.
ABSENT = msgspec.Raw()


# OpenAI-style usage details, which both LiteLLM and Kong pass on.
class PromptTokensDetails(msgspec.Struct):
    cached_tokens: Count | None = None


class CompletionTokensDetails(msgspec.Struct):
    reasoning_tokens: Count | None = None


Adapter = Callable[[bytes], GatewayEvent | Rejection]


class Invalid(Exception):
    """Raised inside an adapter for a record it must reject; ``reason`` goes to the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def never_raising(convert: Callable[[bytes], GatewayEvent]) -> Adapter:
    """Wrap ``convert`` so that any failure becomes a Rejection whose reason names no record value."""

    def adapter(data: bytes) -> GatewayEvent | Rejection:
        try:
            return convert(data)
        except Invalid as exc:
            return Rejection(exc.reason)
        except msgspec.DecodeError as exc:  # ValidationError included
            return Rejection(_scrub(str(exc)))
        except UnicodeDecodeError:
            return Rejection("JSON is malformed: a string is not valid UTF-8")
        except RecursionError:
            return Rejection("JSON is malformed: nested too deeply")
        except Exception as exc:
            # A bug, not bad input; the class name helps find it, the message may hold values.
            return Rejection(f"record could not be normalised (internal error: {type(exc).__name__})")

    return adapter


def _scrub(message: str) -> str:
    # msgspec echoes the offending value only in "Invalid enum value 'x' - at `$.f`"-style
    # messages; keep the path, drop the value.
    if message.startswith("Invalid"):
        at = message.find(" - at `")
        return "Expected one of the documented values" + (message[at:] if at >= 0 else "")
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


def seconds(value: float | None) -> float | None:
    """A duration, or None when it is missing or negative (clocks drift; a wrong sign is not data)."""
    return value + 0.0 if value is not None and 0 <= value <= _FLOAT_MAX else None


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


def copy_strings(source: object, wanted: dict[str, str], attributes: dict[str, str]) -> None:
    """Copy ``source[key]`` to ``attributes[path]`` for each ``key: path`` in ``wanted`` that holds a
    non-empty string. ``source`` is whatever the record had there; anything but a dict is ignored."""
    if isinstance(source, dict):
        for key, path in wanted.items():
            value = source.get(key)
            if value.__class__ is str and value:
                attributes[path] = value


def decode_raw(raw: msgspec.Raw) -> object:
    """Parse a field kept unparsed (``ABSENT`` when the record did not have it)."""
    return msgspec.json.decode(raw) if raw else None


def wanted_under(prefix: str, paths: frozenset[str]) -> dict[str, str]:
    """``{key: path}`` for each requested path ``prefix + key``."""
    return {path[len(prefix):]: path for path in paths if path.startswith(prefix) and len(path) > len(prefix)}
