"""Which raw record fields each dialect offers to attribution, by their path in the record.

Pure data, shared by the adapters (which copy these fields into ``GatewayEvent.attributes``)
and the spec model (which refuses attribution rules naming a field no adapter provides).
"""

from __future__ import annotations

import re

# Record formats posted as JSON to /ingest/<format> or tailed from files.
FORMATS = ("litellm", "kong", "events")
# OpenTelemetry spans, posted over OTLP to /v1/traces: attributed like the record formats.
OTEL = "otel"

ATTRIBUTE_FIELDS: dict[str, tuple[str, ...]] = {
    "litellm": (
        "metadata.user_api_key_team_alias",
        "metadata.user_api_key_team_id",
        "metadata.user_api_key_alias",
        "metadata.user_api_key_org_id",
        "metadata.spend_logs_metadata.<key>",
        "metadata.requester_metadata.<key>",
        "tag.<key>",
    ),
    "kong": (
        "consumer.username",
        "consumer.id",
        "consumer.custom_id",
        "consumer_group",
        "workspace_name",
        "route.name",
        "service.name",
        "request.headers.<name>",
    ),
    "events": ("team", "app", "classification"),
    OTEL: (
        "resource.service.name",
        "resource.service.namespace",
        "resource.k8s.namespace.name",
        "resource.deployment.environment",
        "resource.deployment.environment.name",
        "resource.<key>",
        "span.<key>",
    ),
}

# Which OpenTelemetry spans are model calls: shared by the span adapter and the Collector config
# that forwards only those spans (docs/otlp-in.md).
OTEL_OPERATION = "gen_ai.operation.name"
OTEL_OPENLLMETRY_REQUEST_TYPE = "llm.request.type"
OTEL_OPENLLMETRY_SPAN_KIND = "traceloop.span.kind"
# Inference operations -> the operation label. Beyond the conventions' chat, text_completion,
# embeddings and generate_content, the names some producers use for other model calls.
OTEL_MODEL_OPERATIONS = {
    "chat": "chat",
    "text_completion": "text_completion",
    "embeddings": "embeddings",
    "generate_content": "generate_content",
    "image_generation": "image_generation",
    "audio_transcription": "audio_transcription",
    "speech": "speech",
    "rerank": "rerank",
}
# OpenLLMetry's llm.request.type, before it set gen_ai.operation.name.
OTEL_OPENLLMETRY_OPERATIONS = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings",
                               "rerank": "rerank"}
# OpenLLMetry's spans that wrap model calls; counting them would count the call twice.
OTEL_OPENLLMETRY_WRAPPERS = ("workflow", "task", "agent", "tool")

# A request tag "data-classification:confidential" becomes the attribute
# "tag.data-classification" with value "confidential".
TAG_PREFIX = "tag."

_TEMPLATE = re.compile(r"<[a-z]+>$")


def is_known_field(fmt: str, path: str) -> bool:
    """True when ``path`` is a field the ``fmt`` adapter copies into event attributes."""
    for field in ATTRIBUTE_FIELDS.get(fmt, ()):
        match = _TEMPLATE.search(field)
        if match is None:
            if path == field:
                return True
        elif path.startswith(field[: match.start()]) and len(path) > match.start():
            return True
    return False
