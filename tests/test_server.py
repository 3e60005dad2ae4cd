"""The HTTP endpoint, against a real exporter process on a loopback port.

Bodies are built from the sample gateway records; each test gives its records fresh ids so the
duplicate window of the shared exporter never interferes between tests.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from contract.spec import load
from exporter.logs import RejectionLog
from exporter.server import App, ExporterServer, parse_listen
from tests.paths import EXAMPLE_SPEC
from tests.support.processes import (
    Exporter,
    clean_env,
    ndjson,
    post,
    post_json,
    request,
    scrape_text,
    spec_variant,
    start_exporter,
    total,
    wait_for,
)

LIMIT = 65536  # max_body_bytes of the spec these tests run


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    directory = tmp_path_factory.mktemp("server")
    spec = spec_variant(directory, {"max_body_bytes: 10485760": f"max_body_bytes: {LIMIT}"})
    running = start_exporter(directory, spec=spec)
    yield running
    running.kill()


def fresh(record: dict[str, Any]) -> dict[str, Any]:
    """The record with a new id, so it is never a duplicate of another test's."""
    if "request" in record:
        record["request"]["id"] = f"kreq-{uuid.uuid4()}"
    else:
        record["id"] = f"chatcmpl-{uuid.uuid4()}"
    return record


def broken(record: dict[str, Any]) -> dict[str, Any]:
    """A LiteLLM record the adapter must reject: a token count that is not a number."""
    record = fresh(record)
    record["prompt_tokens"] = "many"
    return record


def raw_exchange(exporter: Exporter, data: bytes) -> bytes:
    """Send raw bytes on a new connection and return everything the server answers."""
    with socket.create_connection((exporter.host, exporter.port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
        return answer


# -- the ingest table -------------------------------------------------------------------


def _object(records: list[dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    return json.dumps(fresh(records[0])).encode(), {"accepted": 1, "rejected": 0, "duplicates": 0, "index": []}


def _array(records: list[dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    body = [fresh(records[0]), broken(records[1]), fresh(records[2])]
    return json.dumps(body).encode(), {"accepted": 2, "rejected": 1, "duplicates": 0, "index": [1]}


def _ndjson(records: list[dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    body = ndjson([fresh(records[0])]) + b"this line is not JSON\n" + ndjson([fresh(records[2]), broken(records[3])])
    return body, {"accepted": 2, "rejected": 2, "duplicates": 0, "index": [1, 3]}


def _ndjson_blank_lines(records: list[dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    body = b"\n" + ndjson([fresh(records[4])]) + b"\n\n" + ndjson([fresh(records[5])])
    return body, {"accepted": 2, "rejected": 0, "duplicates": 0, "index": []}


def _array_with_a_repeat(records: list[dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    record = fresh(records[0])
    return json.dumps([record, fresh(records[1]), record]).encode(), {
        "accepted": 2, "rejected": 0, "duplicates": 1, "index": []}


@pytest.mark.parametrize(
    "build",
    [_object, _array, _ndjson, _ndjson_blank_lines, _array_with_a_repeat],
    ids=["object", "array-bad-middle", "ndjson-bad-lines", "ndjson-blank-lines", "array-repeat"],
)
def test_ingest_answers_202_with_exact_counts_and_the_index_of_each_bad_record(
    exporter: Exporter,
    litellm_records: list[dict[str, Any]],
    build: Callable[[list[dict[str, Any]]], tuple[bytes, dict[str, Any]]],
) -> None:
    body, expected = build(litellm_records)
    status, answer = exporter.post("litellm", body)
    assert status == 202
    assert {k: answer[k] for k in ("accepted", "rejected", "duplicates")} == {
        k: expected[k] for k in ("accepted", "rejected", "duplicates")
    }
    assert [e["index"] for e in answer["errors"]] == expected["index"]
    assert all(isinstance(e["reason"], str) and e["reason"] for e in answer["errors"])


def test_a_rejection_reason_names_the_field_that_was_wrong(
    exporter: Exporter, litellm_records: list[dict[str, Any]]
) -> None:
    status, answer = post_json(exporter.url, "litellm", [broken(litellm_records[0])])
    assert status == 202
    assert "prompt_tokens" in answer["errors"][0]["reason"]
    assert "many" not in json.dumps(answer)


def test_kong_records_go_to_their_own_endpoint(exporter: Exporter, kong_records: list[dict[str, Any]]) -> None:
    status, answer = post_json(exporter.url, "kong", [fresh(r) for r in kong_records])
    assert (status, answer["accepted"], answer["rejected"]) == (202, 6, 0)


@pytest.mark.parametrize(
    "body",
    [b"", b"   \n", b"garbage", b"\x00\xff\xfe binary", b"{not json", b"[1, 2"],
    ids=["empty", "blank", "word", "binary", "broken-object", "broken-array"],
)
def test_a_body_with_nothing_that_parses_is_a_400(exporter: Exporter, body: bytes) -> None:
    status, answer = exporter.post("litellm", body)
    assert status == 400
    assert set(answer) == {"error"}


def test_gzip_bodies_are_accepted(exporter: Exporter, litellm_records: list[dict[str, Any]]) -> None:
    status, answer = post_json(exporter.url, "litellm", [fresh(r) for r in litellm_records[:3]], gzip=True)
    assert (status, answer["accepted"]) == (202, 3)


def test_a_gzip_bomb_is_refused_at_the_limit(exporter: Exporter) -> None:
    bomb = gzip.compress(b"[" + b" " * (LIMIT * 16) + b"]")
    assert len(bomb) < LIMIT
    status, _ = exporter.post("litellm", bomb, {"Content-Encoding": "gzip"})
    assert status == 413


def test_a_body_that_is_not_gzip_but_says_so_is_a_400(exporter: Exporter) -> None:
    status, _ = exporter.post("litellm", b'{"id": "x"}', {"Content-Encoding": "gzip"})
    assert status == 400


def test_an_unknown_content_encoding_is_a_415(exporter: Exporter) -> None:
    status, _ = exporter.post("litellm", b'{"id": "x"}', {"Content-Encoding": "br"})
    assert status == 415


def test_an_oversized_body_is_refused_from_its_content_length_before_it_is_sent(exporter: Exporter) -> None:
    # Only the headers go out: an answer at all proves the server did not wait for the body.
    answer = raw_exchange(exporter, (
        "POST /ingest/litellm HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {LIMIT + 1}\r\n\r\n"
    ).encode())
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in answer.lower()


def test_a_client_that_sends_an_oversized_body_anyway_reads_the_413(exporter: Exporter) -> None:
    # Closing on unread bytes would reset the connection: the sender would see a broken pipe.
    status, answer = exporter.post("litellm", b"[" + b" " * (LIMIT * 64) + b"]")
    assert (status, answer) == (413, {"error": f"body larger than {LIMIT} bytes"})


def test_a_refused_token_is_readable_even_with_a_large_body(guarded: Exporter) -> None:
    status, _ = guarded.post("litellm", b"[" + b" " * (4 * 1024 * 1024) + b"]")
    assert status == 401


def test_a_body_exactly_at_the_limit_is_read(exporter: Exporter) -> None:
    body = b'{"id": "x"}'.ljust(LIMIT, b" ")
    status, answer = exporter.post("events", body)
    assert (status, answer["rejected"]) == (202, 1)


def test_a_chunked_body_over_the_limit_is_refused_while_reading(exporter: Exporter) -> None:
    chunk = b"[" + b" " * 4095
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // len(chunk) + 2))
    answer = raw_exchange(
        exporter,
        b"POST /ingest/kong HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_chunked_body_within_the_limit_is_ingested(exporter: Exporter, kong_records: list[dict[str, Any]]) -> None:
    body = json.dumps([fresh(kong_records[0]), fresh(kong_records[1])]).encode()
    half = len(body) // 2
    connection = http.client.HTTPConnection(exporter.host, exporter.port, timeout=10)
    connection.request("POST", "/ingest/kong", body=iter([body[:half], body[half:]]),
                       encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert (response.status, answer["accepted"]) == (202, 2)


def test_a_post_without_content_length_is_a_411(exporter: Exporter) -> None:
    answer = raw_exchange(exporter, b"POST /ingest/litellm HTTP/1.1\r\nHost: test\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411 ")


def test_one_connection_carries_several_ingests(exporter: Exporter, litellm_records: list[dict[str, Any]]) -> None:
    connection = http.client.HTTPConnection(exporter.host, exporter.port, timeout=10)
    try:
        for record in litellm_records[:3]:
            connection.request("POST", "/ingest/litellm", body=json.dumps(fresh(record)).encode())
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())["accepted"]) == (202, 1)
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("POST", "/ingest/unknown", 404),
        ("GET", "/ingest/litellm", 405),
        ("PUT", "/ingest/kong", 405),
        ("POST", "/metrics", 405),
        ("DELETE", "/healthz", 405),
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("GET", "/metrics", 200),
        ("GET", "/metrics?name[]=genai_requests_total", 200),
    ],
)
def test_routes_and_methods(exporter: Exporter, method: str, path: str, status: int) -> None:
    assert request(exporter.url, method, path, b"{}" if method in ("POST", "PUT") else None)[0] == status


def test_wrong_method_names_the_allowed_one(exporter: Exporter) -> None:
    _, _, headers = request(exporter.url, "GET", "/ingest/litellm")
    assert headers["allow"] == "POST"


def test_metrics_use_the_prometheus_text_content_type(exporter: Exporter) -> None:
    status, body, headers = request(exporter.url, "GET", "/metrics")
    assert status == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"# TYPE genai_spec_info gauge" in body


def test_a_malformed_request_line_is_refused_without_quoting_it(exporter: Exporter) -> None:
    answer = raw_exchange(exporter, b"BREW /pot?secret-tea-canary HTTP/9.9\r\n\r\n")
    assert answer.split(b" ")[1] in (b"400", b"505")
    assert b"secret-tea-canary" not in answer


# -- duplicates -------------------------------------------------------------------------


def test_a_retried_record_is_a_duplicate_and_charged_once_even_after_a_restart(
    tmp_path: Path, exporter_factory: Callable[..., Exporter], litellm_records: list[dict[str, Any]]
) -> None:
    state = tmp_path / "state"
    record = litellm_records[0]  # search / search-api / gpt-4o, response_cost 0.00367
    first = exporter_factory("--state-dir", state)
    assert post_json(first.url, "litellm", record)[1]["accepted"] == 1
    assert post_json(first.url, "litellm", record)[1]["duplicates"] == 1
    metrics = first.scrape()
    assert total(metrics, "genai_cost_usd_total", team="search") == pytest.approx(0.00367, rel=1e-12)
    assert total(metrics, "genai_requests_total", team="search") == 1
    assert first.stop() == 0

    second = exporter_factory("--state-dir", state)
    status, answer = post_json(second.url, "litellm", record)
    assert (status, answer["accepted"], answer["duplicates"]) == (202, 0, 1)
    metrics = second.scrape()
    assert total(metrics, "genai_cost_usd_total", team="search") == pytest.approx(0.00367, rel=1e-12)
    assert total(metrics, "genai_requests_total", team="search") == 1
    assert total(metrics, "genai_exporter_events_total", source="http", result="duplicate") == 2


# -- the ingest token -------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    running = start_exporter(tmp_path_factory.mktemp("guarded"), env=clean_env(GATEWATCH_INGEST_TOKEN="s3cret-t0ken"))
    yield running
    running.kill()


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong", 401),
        ("Bearer s3cret-t0ke", 401),
        ("Bearer s3cret-t0ken-and-more", 401),
        ("Basic s3cret-t0ken", 401),
        ("s3cret-t0ken", 401),
        ("Bearer s3cret-t0ken", 202),
        ("bearer s3cret-t0ken", 202),
    ],
)
def test_a_configured_token_is_required_for_ingest(
    guarded: Exporter, litellm_records: list[dict[str, Any]], authorization: str | None, status: int
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    got, answer = post_json(guarded.url, "litellm", fresh(litellm_records[0]), headers=headers)
    assert got == status
    if status == 401:
        assert answer == {"error": "missing or wrong bearer token"}


def test_metrics_and_probes_need_no_token(guarded: Exporter) -> None:
    for path in ("/metrics", "/healthz", "/readyz"):
        assert request(guarded.url, "GET", path)[0] == 200


def test_the_token_variable_named_on_the_command_line_wins_over_the_spec(
    exporter_factory: Callable[..., Exporter], litellm_records: list[dict[str, Any]]
) -> None:
    env = clean_env(GATEWATCH_INGEST_TOKEN="from-spec-variable", OTHER_TOKEN="from-flag-variable")
    running = exporter_factory("--ingest-token-env", "OTHER_TOKEN", env=env)
    record = fresh(litellm_records[0])
    assert post_json(running.url, "litellm", record, headers={"Authorization": "Bearer from-spec-variable"})[0] == 401
    assert post_json(running.url, "litellm", record, headers={"Authorization": "Bearer from-flag-variable"})[0] == 202


# -- in process: a failing pipeline ------------------------------------------------------


class _ExplodingPipeline:
    spec = load(EXAMPLE_SPEC)

    def ingest(self, records: list[bytes], fmt: str, source: str, position: Any = None) -> Any:
        # Exceptions can quote the record they choked on; the log must not pass that on.
        raise RuntimeError(records[0].decode())

    def scrape(self) -> bytes:
        return b""


def test_a_handler_exception_is_a_500_that_quotes_nothing_and_the_server_keeps_serving(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GATEWATCH_INGEST_TOKEN", raising=False)
    server = ExporterServer(parse_listen("127.0.0.1:0"), App(_ExplodingPipeline()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with caplog.at_level(logging.DEBUG, logger="gatewatch"):
            status, answer = post(url, "/ingest/litellm", b'{"id": "planted-record-text-5a1e"}')
            assert status == 500
            assert "planted" not in json.dumps(answer)
            assert request(url, "GET", "/healthz")[0] == 200
        assert "RuntimeError" in caplog.text
        assert "planted-record-text" not in caplog.text
    finally:
        server.shutdown()
        server.server_close()


def test_readiness_follows_the_app_and_a_draining_app_refuses_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWATCH_INGEST_TOKEN", raising=False)
    app = App(_ExplodingPipeline())
    server = ExporterServer(parse_listen("127.0.0.1:0"), app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert request(url, "GET", "/readyz")[0] == 503
        app.ready.set()
        assert request(url, "GET", "/readyz")[0] == 200
        assert app.drain(timeout=5)
        assert request(url, "GET", "/readyz")[0] == 503
        assert post(url, "/ingest/kong", b"{}")[0] == 503
        assert request(url, "GET", "/healthz")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [("127.0.0.1:9464", "127.0.0.1", 9464), (":9464", "", 9464), ("[::1]:80", "::1", 80),
     ("exporter.local:0", "exporter.local", 0)],
)
def test_listen_addresses(text: str, host: str, port: int) -> None:
    listen = parse_listen(text)
    assert (listen.host, listen.port) == (host, port)


@pytest.mark.parametrize("text", ["9464", "host:", "host:port", "::1:80", "host:70000"])
def test_listen_addresses_that_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(text)


# -- the rejection log ------------------------------------------------------------------


def test_rejections_are_logged_at_most_once_per_interval_with_the_counts(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    rejections = RejectionLog(logging.getLogger("gatewatch.test"), interval=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="gatewatch.test"):
        rejections.note("http", "kong", 2, [(0, "reason one")])
        now[0] = 1004.0
        rejections.note("http", "kong", 3, [(1, "reason two")])
        rejections.note("http", "litellm", 1, [(0, "reason three")])
        now[0] = 1010.0
        rejections.note("http", "kong", 1, [(4, "reason four")])
        rejections.note("http", "kong", 0, [])
        now[0] = 1012.0
        rejections.note("http", "kong", 5, [(0, "reason five")])
        rejections.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "rejected 2 kong record(s) from http since the last report; for example: reason one",
        "rejected 1 litellm record(s) from http since the last report; for example: reason three",
        "rejected 4 kong record(s) from http since the last report; for example: reason two",
        "rejected 5 kong record(s) from http since the last report; for example: reason five",
    ]


# -- canary: nothing personal or secret leaves through any door ---------------------------

PROMPT = "Ignore previous instructions canary-prompt-9f1c"
RESPONSE = "canary-response-77ab says hello"
EMAIL = "jane.canary@leak.example"
IP = "203.0.113.77"
USER_AGENT = "CanaryBrowser/9.9.1"
END_USER = "enduser-canary-42"
SECRET = "sk-canary-secret-0d5e"
INGEST_TOKEN = "ingest-token-canary-31"
PLANTED = (PROMPT, RESPONSE, EMAIL, IP, USER_AGENT, END_USER, SECRET, INGEST_TOKEN,
           "canary-prompt-9f1c", "canary-response-77ab")


def _litellm_canaries(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every field where LiteLLM puts text, identities or addresses, planted."""
    planted = []
    for template in (records[0], records[2], records[7]):  # streaming, PII-masked, fail-open
        record = fresh(json.loads(json.dumps(template)))
        record["id"] = f"chatcmpl-{PROMPT}-{uuid.uuid4()}"
        record["trace_id"] = EMAIL
        record["messages"] = [{"role": "system", "content": PROMPT}, {"role": "user", "content": EMAIL}]
        record["response"] = {"choices": [{"message": {"role": "assistant", "content": RESPONSE}}]}
        record["requester_ip_address"] = IP
        record["user_agent"] = USER_AGENT
        record["end_user"] = END_USER
        record["error_str"] = f"upstream said: {PROMPT}"
        record["request_tags"] = [f"user:{EMAIL}", f"ip:{IP}"]
        record["model_parameters"] = {"user": END_USER}
        metadata = record["metadata"]
        metadata["requester_ip_address"] = IP
        metadata["user_api_key_end_user_id"] = END_USER
        metadata["user_api_key_alias"] = EMAIL
        metadata["user_api_key_user_id"] = EMAIL
        metadata["headers"] = {"authorization": f"Bearer {SECRET}", "user-agent": USER_AGENT}
        metadata["spend_logs_metadata"] = {"end_user": END_USER, "note": PROMPT}
        metadata["requester_metadata"] = {"data_classification": EMAIL}
        planted.append(record)
    odd = fresh(json.loads(json.dumps(records[2])))
    odd["metadata"]["user_api_key_team_alias"] = EMAIL
    odd["metadata"]["user_api_key_team_id"] = IP
    odd["model_group"] = EMAIL
    odd["custom_llm_provider"] = IP
    odd["guardrail_information"][0]["guardrail_name"] = EMAIL
    odd["guardrail_information"][0]["masked_entity_count"] = {EMAIL: 1, END_USER: 2}
    planted.append(odd)
    return planted


def _litellm_malformed(records: list[dict[str, Any]]) -> list[bytes]:
    wrong_type = fresh(json.loads(json.dumps(records[0])))
    wrong_type["prompt_tokens"] = PROMPT
    wrong_type["messages"] = PROMPT
    no_model = fresh(json.loads(json.dumps(records[0])))
    for key in ("model", "model_group"):
        no_model.pop(key)
    no_model["end_user"] = END_USER
    return [
        json.dumps(wrong_type).encode(),
        json.dumps(no_model).encode(),
        f"{PROMPT} {EMAIL} {IP} not json".encode(),
        json.dumps([PROMPT, EMAIL]).encode(),
        json.dumps({"metadata": {"user_api_key_alias": EMAIL}, "response_cost": PROMPT}).encode(),
    ]


def _kong_canaries(records: list[dict[str, Any]]) -> list[bytes]:
    good = fresh(json.loads(json.dumps(records[0])))
    good["client_ip"] = IP
    good["request"]["uri"] = f"/v1/chat/completions?user={EMAIL}"
    good["request"]["headers"] = {
        "authorization": f"Bearer {SECRET}", "user-agent": USER_AGENT, "x-forwarded-for": IP,
        "x-end-user": END_USER, "x-data-classification": EMAIL,
    }
    good["request"]["body"] = json.dumps({"messages": [{"content": PROMPT}]})
    good["response"]["body"] = RESPONSE
    good["consumer"] = {"id": END_USER, "username": EMAIL, "custom_id": IP}
    good["consumer_group"] = IP
    good["ai"]["proxy"]["payload"] = {"request": PROMPT, "response": RESPONSE}
    bad = fresh(json.loads(json.dumps(records[0])))
    bad["ai"]["proxy"]["usage"]["prompt_tokens"] = EMAIL
    bad["client_ip"] = IP
    no_ai = {"request": {"id": END_USER, "headers": {"authorization": f"Bearer {SECRET}"}}, "client_ip": IP}
    return [json.dumps(good).encode(), json.dumps(bad).encode(), json.dumps(no_ai).encode()]


def _events_canaries() -> list[bytes]:
    base = {"id": f"evt-{uuid.uuid4()}", "timestamp": 1790000000.0, "team": EMAIL, "app": "svc-search",
            "classification": EMAIL, "model": "gpt-4o", "provider": "openai", "operation": "chat",
            "outcome": "success", "input_tokens": 12, "output_tokens": 3,
            "sensitive_entities": {"email": 1}}
    return [
        json.dumps(base).encode(),
        json.dumps({**base, "id": PROMPT, "outcome": PROMPT}).encode(),
        json.dumps({**base, "id": f"evt-{uuid.uuid4()}", "sensitive_entities": {EMAIL: 1}}).encode(),
        json.dumps({**base, "id": f"evt-{uuid.uuid4()}", "input_tokens": END_USER}).encode(),
    ]


def test_no_planted_secret_or_identity_reaches_metrics_state_logs_or_responses(
    tmp_path: Path, exporter_factory: Callable[..., Exporter],
    litellm_records: list[dict[str, Any]], kong_records: list[dict[str, Any]],
) -> None:
    state = tmp_path / "state"
    tailed = tmp_path / "litellm.jsonl"
    file_lines = [json.dumps(r).encode() for r in _litellm_canaries(litellm_records)]
    file_lines += _litellm_malformed(litellm_records)
    tailed.write_bytes(b"\n".join(file_lines) + b"\n")

    running = exporter_factory(
        "--state-dir", state, "--tail", tailed, "--format", "litellm",
        env=clean_env(GATEWATCH_INGEST_TOKEN=INGEST_TOKEN),
    )
    auth = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    answers: list[bytes] = []

    def send(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> int:
        status, answer, answer_headers = request(running.url, method, path, body, headers)
        answers.append(answer + json.dumps(answer_headers).encode())
        return status

    litellm = [json.dumps(r).encode() for r in _litellm_canaries(litellm_records)]
    malformed = _litellm_malformed(litellm_records)
    kong = _kong_canaries(kong_records)
    events = _events_canaries()
    assert send("POST", "/ingest/litellm", litellm[0], auth) == 202
    assert send("POST", "/ingest/litellm", b"[" + b",".join(litellm[1:] + malformed[:2]) + b"]", auth) == 202
    assert send("POST", "/ingest/litellm", b"\n".join(malformed), auth) == 202
    assert send("POST", "/ingest/litellm", gzip.compress(b"\n".join(malformed)),
                {**auth, "Content-Encoding": "gzip"}) == 202
    assert send("POST", "/ingest/kong", b"\n".join(kong), auth) == 202
    assert send("POST", "/ingest/events", b"[" + b",".join(events) + b"]", auth) == 202
    assert send("POST", "/ingest/litellm", f"{PROMPT} {EMAIL}".encode(), auth) == 400
    assert send("POST", "/ingest/litellm", litellm[0], {"Authorization": f"Bearer {SECRET}"}) == 401
    assert send("POST", f"/ingest/{EMAIL}?q={PROMPT.replace(' ', '+')}", litellm[0], auth) == 404
    assert send("GET", f"/metrics?user={EMAIL}", None, {"User-Agent": USER_AGENT}) == 200
    answers.append(raw_exchange(running, f"GET /{PROMPT} {EMAIL}\r\nX: {SECRET}\r\n\r\n".encode()))

    def tail_done() -> bool:
        metrics = running.scrape()
        return total(metrics, "genai_exporter_events_total", source="file") == len(file_lines)

    wait_for(tail_done, what="the tail to read every line")
    exposition = scrape_text(running.url)
    assert running.stop() == 0

    # The test is only meaningful if the planted records were accepted and counted.
    assert 'genai_exporter_events_total{source="http",format="litellm",result="accepted"} 4' in exposition
    assert 'genai_exporter_events_total{source="file",format="litellm",result="accepted"} 4' in exposition
    assert 'genai_exporter_events_total{source="http",format="kong",result="accepted"} 1' in exposition
    assert 'genai_exporter_events_total{source="http",format="events",result="accepted"} 2' in exposition
    state_files = [p for p in state.rglob("*") if p.is_file()]
    assert state_files
    log = running.log()
    assert "DEBUG" in log
    for planted in PLANTED:
        assert planted not in exposition, f"{planted!r} in /metrics"
        # Nor disguised: label values are normalised to lower snake case in places.
        snake = re.sub(r"[^a-z0-9_]", "_", planted.lower())
        assert snake not in exposition, f"{planted!r} in /metrics as {snake!r}"
        assert planted not in log, f"{planted!r} in the exporter log"
        for answer in answers:
            assert planted.encode() not in answer, f"{planted!r} in a response"
        for path in state_files:
            assert planted.encode() not in path.read_bytes(), f"{planted!r} in {path.name}"
