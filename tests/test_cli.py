"""The command line: flags, exit codes and start-up failures, through the real entry point."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from exporter.__main__ import build_parser, parse_options
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.processes import Exporter, clean_env, launch, request, spec_variant, wait_for, wait_ready

FLAGS = (
    "--spec", "--listen", "--tail", "--format", "--state-dir", "--otlp-endpoint", "--otlp-interval",
    "--ingest-token-env", "--log-level", "--help",
)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exporter", *args], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_help_mentions_every_flag_and_exits_0() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in FLAGS:
        assert flag in result.stdout, flag
    assert "persisted" in result.stdout  # what running without --state-dir means


def test_every_flag_has_a_sentence_of_help() -> None:
    for action in build_parser()._actions:
        if action.option_strings and "--help" not in action.option_strings:
            assert action.help and len(action.help.split()) >= 5 and action.help.rstrip().endswith("."), action


def test_defaults_listen_on_loopback_port_9464_without_state() -> None:
    options, level = parse_options([])
    assert (options.listen.host, options.listen.port) == ("127.0.0.1", 9464)
    assert (options.spec_path, options.state_dir, options.otlp_endpoint, level) == (
        Path("ops.yaml"), None, None, "info")


def test_tail_and_format_pair_up_in_order() -> None:
    options, _ = parse_options(["--tail", "a.jsonl", "--format", "kong", "--tail", "b.jsonl", "--format", "litellm"])
    assert options.tails == ((Path("a.jsonl"), "kong"), (Path("b.jsonl"), "litellm"))


def test_one_format_applies_to_every_tail() -> None:
    options, _ = parse_options(["--tail", "a.jsonl", "--tail", "b.jsonl", "--format", "kong"])
    assert options.tails == ((Path("a.jsonl"), "kong"), (Path("b.jsonl"), "kong"))


@pytest.mark.parametrize(
    "args",
    [
        ["--tail", "a.jsonl"],
        ["--format", "kong"],
        ["--tail", "a", "--tail", "b", "--tail", "c", "--format", "kong", "--format", "kong"],
        ["--tail", "a", "--format", "syslog"],
        ["--tail", "a.jsonl", "--tail", "./a.jsonl", "--format", "kong"],
        ["--listen", "9464"],
        ["--listen", "host:99999"],
        ["--otlp-interval", "0"],
        ["--otlp-interval", "soon"],
        ["--log-level", "chatty"],
        ["--no-such-flag"],
    ],
)
def test_bad_usage_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_options(args)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_broken_spec_prints_file_line_and_path_and_exits_2(tmp_path: Path) -> None:
    spec = spec_variant(tmp_path, {"budget: {monthly_usd: 9000}": "budget: {monthly_usd: plenty}"})
    line = next(n for n, text in enumerate(spec.read_text().splitlines(), 1) if "plenty" in text)
    result = run_cli("--spec", str(spec), "--listen", "127.0.0.1:0")
    assert result.returncode == 2
    # analytics is the third team: teams[2]
    assert f"{spec}:{line}: teams[2].budget.monthly_usd: expected" in result.stderr


def test_a_missing_spec_exits_2(tmp_path: Path) -> None:
    result = run_cli("--spec", str(tmp_path / "absent.yaml"), "--listen", "127.0.0.1:0")
    assert result.returncode == 2
    assert "absent.yaml" in result.stderr


def test_a_port_in_use_is_a_clear_error_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--spec", str(EXAMPLE_SPEC), "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in result.stderr


def test_a_state_dir_that_is_a_file_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    result = run_cli("--spec", str(EXAMPLE_SPEC), "--listen", "127.0.0.1:0", "--state-dir", str(blocker))
    assert result.returncode == 1
    assert "state directory" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_writes_the_final_snapshot_and_exits_0(
    tmp_path: Path, exporter_factory: Callable[..., Exporter], signum: int
) -> None:
    state = tmp_path / "state"
    running = exporter_factory("--state-dir", state)
    running.signal(signum)
    assert running.process.wait(30) == 0
    assert [p.stat().st_size > 0 for p in state.glob("state-*.snap")] == [True]
    assert "stopped" in running.log()


def test_listen_on_all_interfaces(tmp_path: Path) -> None:
    running = launch(tmp_path, listen=":0")
    try:
        wait_ready(running)
        assert "listening on http://0.0.0.0:" in running.log()
        assert request(running.url, "GET", "/healthz")[0] == 200
    finally:
        running.kill()


# -- OTLP wiring ------------------------------------------------------------------------


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str]]]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, self.headers.get("Content-Type", "")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    received: list[tuple[str, str]] = []
    handler = type("Handler", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_otlp_endpoint_receives_periodic_protobuf_pushes(
    exporter_factory: Callable[..., Exporter], collector: tuple[str, list[tuple[str, str]]]
) -> None:
    url, received = collector
    exporter_factory("--otlp-endpoint", url, "--otlp-interval", "0.2")
    wait_for(lambda: len(received) >= 2, what="two OTLP pushes")
    assert set(received) == {("/v1/metrics", "application/x-protobuf")}


def test_otlp_makes_a_final_push_on_shutdown(
    exporter_factory: Callable[..., Exporter], collector: tuple[str, list[tuple[str, str]]]
) -> None:
    url, received = collector
    running = exporter_factory("--otlp-endpoint", url, "--otlp-interval", "3600")
    assert received == []
    assert running.stop() == 0
    assert received == [("/v1/metrics", "application/x-protobuf")]


@pytest.mark.parametrize("name", ["snapshot.msgpack", "state-00000000000000000001.snap", "wal"])
def test_a_state_path_that_is_unusable_is_a_clear_error_not_a_traceback(tmp_path: Path, name: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    if name == "wal":
        (state / name).write_text("a file where the log directory belongs")
    else:
        (state / name).mkdir()
    result = run_cli("--spec", str(EXAMPLE_SPEC), "--listen", "127.0.0.1:0", "--state-dir", str(state))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(state) in result.stderr
