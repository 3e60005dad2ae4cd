"""Golden fixtures from what the real proxy posted: one record per scenario and release, with the
prompt, the answer and everything identifying taken out. ``GATEWATCH_WRITE_GOLDEN=1`` makes the
conformance run rewrite them; the offline test (tests/test_litellm_golden.py) reads them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.conformance.litellm.truth import scenario_of
from tests.paths import FIXTURES

WRITE_ENV = "GATEWATCH_WRITE_GOLDEN"
# Text, addresses, hashes, and client details: never in a fixture.
_DROPPED = ("response", "error_str", "api_base", "requester_ip_address", "user_agent", "end_user",
            "model_parameters", "cache_key", "response_cost_failure_debug_info")
_DROPPED_METADATA = ("user_api_key_hash", "requester_ip_address", "user_agent", "user_api_key_user_email",
                     "requester_custom_headers", "user_api_key_auth_metadata", "cold_storage_object_key",
                     "user_api_key_end_user_id")
_DROPPED_ERROR = ("traceback", "error_message")
_DROPPED_GUARDRAIL = ("guardrail_response", "match_details")


def path(release: str) -> Path:
    return FIXTURES / "litellm" / f"proxy-{release}.jsonl"


def strip(record: dict[str, Any]) -> dict[str, Any]:
    """The record without text or identifying values; the prompt becomes its scenario marker."""
    scenario = scenario_of(record).name
    kept = {k: copy.deepcopy(v) for k, v in record.items() if k not in _DROPPED}
    kept["messages"] = [{"role": "user", "content": f"(scn:{scenario})"}]
    metadata = kept.get("metadata") or {}
    for key in _DROPPED_METADATA:
        metadata.pop(key, None)
    for entry in (metadata.get("requester_metadata") or {}, metadata.get("spend_logs_metadata") or {}):
        entry.pop("requester_ip_address", None)
        entry.pop("headers", None)  # the client's request headers
    hidden = kept.get("hidden_params") or {}
    hidden.pop("api_base", None)
    hidden.pop("additional_headers", None)
    for key in _DROPPED_ERROR:
        (kept.get("error_information") or {}).pop(key, None)
    guardrails = kept.get("guardrail_information") or []
    for entry in guardrails if isinstance(guardrails, list) else [guardrails]:
        for key in _DROPPED_GUARDRAIL:
            entry.pop(key, None)
    return kept


def write(release: str, records: list[dict[str, Any]]) -> None:
    """One record per scenario and status (the first logged: a limited key's success and its
    refusal both), in the order they were logged."""
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        first.setdefault((scenario_of(record).name, str(record.get("status"))), record)
    text = "".join(json.dumps(strip(r), sort_keys=True) + "\n" for r in first.values())
    path(release).write_text(text)
