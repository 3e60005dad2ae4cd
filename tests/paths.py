"""Where the test suite finds the repository's files."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
LITELLM_FIXTURE = FIXTURES / "litellm" / "standard_logging_payload.jsonl"
KONG_FIXTURE = FIXTURES / "kong" / "http_log.jsonl"
EXAMPLE_SPEC = ROOT / "ops.yaml"
