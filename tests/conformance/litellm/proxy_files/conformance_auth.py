"""custom_auth for the conformance proxy: API keys mapped to what LiteLLM virtual keys carry
(key alias, team alias, team id, limits), with no database. Loaded by the proxy, not by pytest."""

from __future__ import annotations

import hashlib

import litellm
from fastapi import HTTPException, Request
from litellm.proxy._types import UserAPIKeyAuth

KEYS = {
    "sk-conf-search": {"key_alias": "svc-search", "team_alias": "search", "team_id": "team-1"},
    "sk-conf-support": {"key_alias": "zendesk-assist", "team_alias": "support-bot", "team_id": "team-2"},
    "sk-conf-unknown": {"key_alias": "skunk-tool", "team_alias": "skunkworks", "team_id": "team-99"},
    "sk-conf-noteam": {},
    "sk-conf-limited": {"key_alias": "svc-search", "team_alias": "search", "team_id": "team-1", "rpm_limit": 2},
    "sk-conf-broke": {"key_alias": "svc-search", "team_alias": "search", "team_id": "team-1", "over_budget": True},
}


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    key = api_key.removeprefix("Bearer ").strip()
    entry = KEYS.get(key)
    if entry is None:
        raise HTTPException(status_code=401, detail="unknown key")
    if entry.get("over_budget"):
        # What the proxy's own budget check raises for a virtual key past its max_budget.
        raise litellm.BudgetExceededError(current_cost=12.5, max_budget=10.0)
    fields = {k: v for k, v in entry.items() if k != "over_budget"}
    hashed = hashlib.sha256(key.encode()).hexdigest()
    return UserAPIKeyAuth(api_key=hashed, token=hashed, **fields)
