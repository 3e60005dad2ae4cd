"""An instrumented application, run inside one producer's own venv (never gatewatch's).

It makes the same calls with the ``openai`` SDK against the fake upstream, instrumented by the
producer named on the command line, and exports its spans with the real OTLP exporter to the
exporter under test. It also writes each finished span's name and duration to ``--spans-out``
(from the SDK's in-memory exporter), which the test tallies for the duration buckets.
"""

from __future__ import annotations

import argparse
import json
import os

# Message content capture on, so that the canary planted in prompts is in the spans
# (the official instrumentation puts it on spans only with the latest experimental conventions).
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
os.environ.setdefault("TRACELOOP_TRACE_CONTENT", "true")

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

CALLS = (
    ("chat", "gpt-4o-mini", False),
    ("chat", "gpt-4o-mini", True),
    ("chat", "o3", False),
    ("chat", "slow-gpt-4o-mini", False),
    ("embeddings", "text-embedding-3-small", False),
    ("chat", "fail-429", False),
    ("chat", "fail-500", False),
    ("chat", "fail-400", False),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--producer", required=True, choices=("openai-v2", "openllmetry"))
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--endpoint", required=True, help="the exporter's base URL")
    parser.add_argument("--encoding", default="protobuf", choices=("protobuf", "json"))
    parser.add_argument("--service-name", default="checkout")
    parser.add_argument("--service-namespace", default="support")
    parser.add_argument("--canary", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--spans-out", required=True)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--metrics", default="none", choices=("none", "cumulative", "delta"),
                        help="also export the instrumentation's GenAI metrics, with this temporality")
    args = parser.parse_args()

    resource = Resource.create({"service.name": args.service_name, "service.namespace": args.service_namespace})
    provider = TracerProvider(resource=resource)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    if args.encoding == "json":
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    exporter = OTLPSpanExporter(endpoint=args.endpoint + "/v1/traces", headers=headers)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)

    meter_provider = None
    if args.metrics != "none":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import Histogram, MeterProvider
        from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader

        temporality = {Histogram: AggregationTemporality.DELTA} if args.metrics == "delta" else None
        metric_exporter = OTLPMetricExporter(endpoint=args.endpoint + "/v1/metrics", headers=headers,
                                             preferred_temporality=temporality)
        # A long interval: the test's figures come from the flushes at the end (and one midway).
        reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])

    if args.producer == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    else:
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    if meter_provider is not None:
        OpenAIInstrumentor().instrument(tracer_provider=provider, meter_provider=meter_provider)
    else:
        OpenAIInstrumentor().instrument(tracer_provider=provider)

    import openai

    client = openai.OpenAI(base_url=args.upstream, api_key="sk-test-not-a-key", max_retries=0)
    tracer = trace.get_tracer("checkout.app")
    prompt = f"Summarise the ticket for {args.canary}" if args.canary else "Summarise the ticket"
    for _ in range(args.rounds):
        # A workflow span around the calls, as agent frameworks make: it must not count.
        with tracer.start_as_current_span("handle-ticket"):
            for operation, model, stream in CALLS:
                try:
                    if operation == "embeddings":
                        client.embeddings.create(model=model, input=prompt)
                    elif stream:
                        for _chunk in client.chat.completions.create(
                            model=model, messages=[{"role": "user", "content": prompt}], stream=True,
                            stream_options={"include_usage": True},
                        ):
                            pass
                    else:
                        client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
                except openai.APIStatusError:
                    pass
        if meter_provider is not None:
            meter_provider.force_flush()  # each round exported: cumulative points must be differenced
    provider.force_flush()
    provider.shutdown()
    if meter_provider is not None:
        meter_provider.shutdown()
    spans = [
        {"name": s.name, "duration": (s.end_time - s.start_time) / 1e9,
         "attributes": sorted(k for k in (s.attributes or {})),
         "carries_canary": bool(args.canary) and any(args.canary in str(v) for v in (s.attributes or {}).values())}
        for s in memory.get_finished_spans()
    ]
    with open(args.spans_out, "w") as out:
        json.dump(spans, out)


if __name__ == "__main__":
    main()
