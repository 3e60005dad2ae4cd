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


# None: the record is not a request at all (an OTel span that is not a model call).
Adapter = Callable[[Any], GatewayEvent | Rejection | None]


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


# Entity types as the PII engines (Presidio, Kong's AI sanitizer, AWS Bedrock guardrails, Lakera)
# name them, folded to one name each so that Presidio's EMAIL_ADDRESS and Kong's EMAIL count
# together. Keys are already normalised (lower snake case). A name outside this table is counted
# as ``unknown``: the entity label is a closed set, because a type name is record data, and a
# gateway that puts an address, an email or a user's id there must not make it a label value.
_ENTITY_SYNONYMS = {
    "email": "email", "email_address": "email",
    "phone": "phone_number", "phone_number": "phone_number",
    "credit_card": "credit_card", "credit_card_number": "credit_card", "creditcard": "credit_card",
    "credit_debit_card_number": "credit_card", "credit_debit_card_cvv": "credit_card",
    "credit_debit_card_expiry": "credit_card",
    "us_ssn": "ssn", "ssn": "ssn", "us_social_security_number": "ssn",
    "ip": "ip_address", "ip_address": "ip_address",
    "person": "person", "name": "person",
    "iban": "iban", "iban_code": "iban", "international_bank_account_number": "iban",
    "location": "location", "address": "location",
    "url": "url", "domain": "url",
    "date_time": "date_time", "age": "date_time",
    "us_bank_number": "bank_account", "bank": "bank_account", "bank_account": "bank_account",
    "swift_code": "bank_account", "pin": "bank_account",
    "us_passport": "passport", "us_passport_number": "passport", "passport": "passport",
    "us_driver_license": "driver_license", "driver_id": "driver_license", "driver_license": "driver_license",
    "license_plate": "driver_license", "vehicle_identification_number": "driver_license",
    "medical_license": "medical", "uk_nhs": "medical", "medical": "medical",
    "us_itin": "national_id", "uk_nino": "national_id", "es_nif": "national_id", "it_fiscal_code": "national_id",
    "sg_nric_fin": "national_id", "au_tfn": "national_id", "au_abn": "national_id", "in_pan": "national_id",
    "in_aadhaar": "national_id", "crn": "national_id", "national_id": "national_id",
    "nrp": "nrp", "crypto": "crypto",
    "username": "credentials", "password": "credentials", "aws_access_key": "credentials",
    "aws_secret_key": "credentials", "api_key": "credentials", "credentials": "credentials",
    "mac_address": "mac_address",
}
UNKNOWN_ENTITY = "unknown"
# The folded names, in a stable order: every value the metric's entity label can carry.
ENTITY_TYPES = (*dict.fromkeys(_ENTITY_SYNONYMS.values()), UNKNOWN_ENTITY)
_ENTITY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_entity_cache: dict[str, str] = {}
_ENTITY_CACHE_MAX = 4096  # entity names come from records: cap what they can make us remember


def entity_name(raw: str) -> str:
    """A PII entity type folded to one of ENTITY_TYPES: lower snake case, synonyms folded,
    ``unknown`` for anything else."""
    name = _entity_cache.get(raw)
    if name is None:
        snake = "".join(c if c in _ENTITY_CHARS else "_" for c in raw.strip().lower())
        name = _ENTITY_SYNONYMS.get(snake, UNKNOWN_ENTITY)
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
