"""The real LiteLLM proxy on loopback: its config, written per run, and its process."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.processes import request, wait_for

AUTH_MODULE = Path(__file__).parent / "proxy_files" / "conformance_auth.py"
# The generic logger's batch formats, each to its own exporter through the relay.
LOG_FORMATS = ("json_array", "ndjson", "single")
INGEST_TOKEN = "conformance-ingest-token"
DEPLOYMENT_TIMEOUT = 2  # seconds; the upstream's slow answer takes longer
START_TIMEOUT = 180.0
# Model groups of other providers: (LiteLLM model, mock_response). LiteLLM drops a client's
# mock_response in later releases, so the deployment carries it.
MOCKED = {
    "claude-sonnet-4": ("anthropic/claude-sonnet-4-20250514", "Mocked answer."),
    "claude-haiku-3-5": ("anthropic/claude-3-5-haiku-20241022", "litellm.RateLimitError"),
    "gemini-2.5-pro": ("gemini/gemini-2.5-pro", "litellm.InternalServerError"),
    "gemini-2.5-flash": ("gemini/gemini-2.5-flash", "litellm.ContextWindowExceededError"),
}


def config(upstream: str, log_urls: dict[str, str], *, logging_only_guardrail: bool = True) -> dict:
    openai = {"api_base": upstream, "api_key": "sk-upstream-fake", "timeout": DEPLOYMENT_TIMEOUT,
              "stream_timeout": DEPLOYMENT_TIMEOUT, "max_retries": 0}
    content_filter = {"guardrail": "litellm_content_filter", "default_on": True}
    return {
        "model_list": [
            {"model_name": "gpt-4o", "litellm_params": {"model": "openai/gpt-4o", **openai},
             "model_info": {"id": "gpt-4o-east"}},
            {"model_name": "gpt-4o-mini", "litellm_params": {"model": "openai/gpt-4o-mini", **openai}},
            {"model_name": "o3", "litellm_params": {"model": "openai/o3", **openai}},
            {"model_name": "text-embedding-3-small",
             "litellm_params": {"model": "openai/text-embedding-3-small", **openai}},
        ] + [
            # Other providers answer through mock_response, so LiteLLM's own code builds their
            # records and error shapes. Their api_base is the fake upstream all the same: nothing
            # ever leaves loopback.
            {"model_name": name, "litellm_params": {"model": model, "api_key": "fake", "api_base": upstream,
                                                    "mock_response": answer}}
            for name, (model, answer) in MOCKED.items()
        ],
        "router_settings": {"num_retries": 0},
        "litellm_settings": {
            "callbacks": [f"gatewatch_{fmt}" for fmt in log_urls],
            "cache": True,
            "cache_params": {"type": "local"},
            "num_retries": 0,
            "request_timeout": DEPLOYMENT_TIMEOUT,
        },
        "callback_settings": {
            f"gatewatch_{fmt}": {
                "callback_type": "generic_api", "endpoint": url, "log_format": fmt,
                "headers": {"Authorization": f"Bearer {INGEST_TOKEN}"},
            }
            for fmt, url in log_urls.items()
        },
        "guardrails": [
            {"guardrail_name": "pii-mask", "litellm_params": {
                **content_filter, "mode": "pre_call",
                "patterns": [{"pattern_type": "prebuilt", "pattern_name": "email", "action": "MASK"}]}},
            {"guardrail_name": "injection-block", "litellm_params": {
                **content_filter, "mode": "pre_call",
                "blocked_words": [{"keyword": "ignore all previous instructions", "action": "BLOCK"}]}},
        ] + ([{"guardrail_name": "secrets-watch", "litellm_params": {
                **content_filter, "mode": "logging_only",
                "blocked_words": [{"keyword": "project nightingale", "action": "BLOCK"}]}}]
             if logging_only_guardrail else []),
        # custom_auth decides every request; the master key only satisfies the start-up check.
        "general_settings": {"custom_auth": "conformance_auth.user_api_key_auth",
                             "master_key": "sk-conformance-master-0f3a9c27d1e84b6a"},
    }


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(20)


def start(venv: str, directory: Path, port: int, cfg: dict, env: dict[str, str]) -> Proxy:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(AUTH_MODULE, directory / AUTH_MODULE.name)
    (directory / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    log = directory / "proxy.log"
    command = [f"{venv}/bin/litellm", "--config", "config.yaml", "--host", "127.0.0.1", "--port", str(port),
               "--num_workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=directory, stdout=out, stderr=subprocess.STDOUT,
                                   env={**env, "PYTHONPATH": str(directory)})
    proxy = Proxy(process, port, log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"litellm exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        return request(proxy.url, "GET", "/health/liveliness")[0] == 200

    try:
        wait_for(ready, timeout=START_TIMEOUT, what="the LiteLLM proxy to start", interval=0.5)
    except BaseException:
        proxy.stop()
        raise
    return proxy
