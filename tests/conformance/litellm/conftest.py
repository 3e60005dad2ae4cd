"""One run per pinned LiteLLM release: fake provider, capturing relay, one exporter per batch
format, and the real proxy between them. The traffic is sent once per release; the tests read
what the proxy posted and what each exporter made of it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conformance.litellm import golden, traffic
from tests.conformance.litellm import proxy as litellm_proxy
from tests.conformance.litellm.relay import Relay
from tests.conformance.litellm.releases import LOGGING_ONLY, RELEASES, venv
from tests.conformance.litellm.truth import records
from tests.conformance.litellm.upstream import Upstream
from tests.support.processes import Exporter, clean_env, spec_variant, start_exporter, wait_for
from tests.support.prometheus import free_port

# Attribution as a user would extend it: requester metadata names a team, a client tag an app.
_TEAM = "    team: [metadata.user_api_key_team_alias, metadata.user_api_key_team_id"
_APP = "    app: [metadata.user_api_key_alias"
SPEC_CHANGES = {
    f"{_TEAM}]\n{_APP}]": f"{_TEAM}, metadata.requester_metadata.team]\n{_APP}, tag.app]",
}
SETTLED_SECONDS = 3.0  # no new post for this long after the traffic: the proxy has flushed


@dataclass
class Run:
    release: str
    records: dict[str, list[dict]]  # per batch format, as posted
    posts: dict[str, list]
    exporters: dict[str, Exporter]
    scenarios: list[traffic.Scenario]


def _settled(relay: Relay) -> bool:
    counts = tuple(len(relay.captured(fmt)) for fmt in litellm_proxy.LOG_FORMATS)
    previous = getattr(relay, "_last", None)
    now = time.monotonic()
    if previous is None or previous[0] != counts:
        relay._last = (counts, now)  # type: ignore[attr-defined]
        return False
    return now - previous[1] >= SETTLED_SECONDS and all(counts)


@pytest.fixture(scope="module", params=RELEASES, ids=lambda r: f"litellm-{r}")
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    release = request.param
    home = venv(release)
    directory = tmp_path_factory.mktemp(f"litellm-{release}")
    spec = spec_variant(directory, SPEC_CHANGES)
    env = clean_env(GATEWATCH_INGEST_TOKEN=litellm_proxy.INGEST_TOKEN)
    exporters = {fmt: start_exporter(directory / f"exporter-{fmt}", spec=spec, env=env)
                 for fmt in litellm_proxy.LOG_FORMATS}
    upstream = Upstream()
    relay = Relay({fmt: ("127.0.0.1", e.port) for fmt, e in exporters.items()})
    proxy = None
    try:
        config = litellm_proxy.config(
            upstream.base_url, {fmt: relay.url(fmt) + "/ingest/litellm" for fmt in litellm_proxy.LOG_FORMATS},
            logging_only_guardrail=release in LOGGING_ONLY)
        proxy_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "ANTHROPIC", "GEMINI"))}
        proxy_env |= {"DEFAULT_FLUSH_INTERVAL_SECONDS": "1", "DEFAULT_BATCH_SIZE": "5",
                      "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
        proxy = litellm_proxy.start(home, directory / "proxy", free_port(), config, proxy_env)
        sent = traffic.run(proxy.url, logging_only=release in LOGGING_ONLY)
        wait_for(lambda: _settled(relay), timeout=90, what="the proxy to flush its logs", interval=0.25)
        posts = {fmt: relay.captured(fmt) for fmt in litellm_proxy.LOG_FORMATS}
        found = {fmt: records(p, fmt) for fmt, p in posts.items()}
        (directory / "captured.json").write_text(json.dumps(found["json_array"], indent=1))
        if os.environ.get(golden.WRITE_ENV):
            golden.write(release, found["json_array"])
        yield Run(release, found, posts, exporters, sent)
    finally:
        if proxy is not None:
            proxy.stop()
        relay.close()
        upstream.close()
        for exporter in exporters.values():
            exporter.kill()
