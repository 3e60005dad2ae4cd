"""The installed ``gatewatch`` command: every subcommand's help, and one real run of each, beside the
entry points it delegates to."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import COMMANDS
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.processes import Exporter, clean_env, wait_ready

GATEWATCH = Path(sys.executable).parent / "gatewatch"

# Each subcommand, the entry point it stands for, and a flag only that entry point's help names.
SUBCOMMANDS = (
    ("exporter", [sys.executable, "-m", "exporter"], "--state-dir"),
    ("generate", [sys.executable, "generate.py"], "--time-scale"),
    ("report", [sys.executable, "-m", "reports"], "chargeback"),
    ("drill", [sys.executable, "-m", "drills"], "--parallel"),
    ("simulate", [sys.executable, "-m", "simulate"], "--backfill"),
)


def gatewatch(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GATEWATCH), *args], cwd=ROOT, env=clean_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_the_script_is_installed() -> None:
    assert GATEWATCH.is_file(), f"{GATEWATCH} missing: `pip install -e .` installs it"


def test_every_subcommand_is_tested_here() -> None:
    assert [name for name, _, _ in SUBCOMMANDS] == list(COMMANDS)


def test_top_level_help_lists_every_subcommand() -> None:
    result = gatewatch("--help")
    assert result.returncode == 0, result.stderr
    for name, command in COMMANDS.items():
        assert f"  {name:<10}{command.summary}" in result.stdout


@pytest.mark.parametrize(("name", "entry_point", "own_flag"), SUBCOMMANDS, ids=[s[0] for s in SUBCOMMANDS])
def test_subcommand_help_is_the_entry_points_help_under_its_own_name(
        name: str, entry_point: list[str], own_flag: str) -> None:
    ours = gatewatch(name, "--help")
    theirs = subprocess.run([*entry_point, "--help"], cwd=ROOT, env=clean_env(), capture_output=True, text=True,
                            timeout=60, check=False)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr + theirs.stderr
    assert ours.stdout.startswith(f"usage: gatewatch {name} ")
    assert own_flag in ours.stdout
    # The same text but for the program name (argparse wraps usage lines by the name's length).
    assert " ".join(ours.stdout.split()[3:]) == " ".join(theirs.stdout.split()[len(entry_point) + 1:])


def test_no_subcommand_or_an_unknown_one_is_a_usage_error() -> None:
    for args in ((), ("exporters",)):
        result = gatewatch(*args)
        assert result.returncode == 2
        assert result.stderr.startswith("usage: gatewatch")


def test_exporter_serves_metrics_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    stdout, stderr = tmp_path / "exporter.out", tmp_path / "exporter.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen([str(GATEWATCH), "exporter", "--spec", str(EXAMPLE_SPEC),
                                    "--listen", "127.0.0.1:0", "--log-level", "debug"],
                                   cwd=ROOT, env=clean_env(), stdout=out, stderr=err)
    exporter = Exporter(process, stdout, stderr)
    try:
        wait_ready(exporter)
        metrics = exporter.scrape()
        assert any(name == "genai_spec_info" for name, _ in metrics), sorted({n for n, _ in metrics})[:20]
    finally:
        returncode = exporter.stop()
    assert returncode == 0, exporter.log()[-2000:]


def test_generate_check_passes_on_the_committed_build_and_fails_on_a_stale_one(tmp_path: Path) -> None:
    assert gatewatch("generate", "--check").returncode == 0
    stale = tmp_path / "build"
    shutil.copytree(ROOT / "build", stale)
    (stale / "prometheus" / "prometheus.yml").write_text("edited\n", encoding="utf-8")
    result = gatewatch("generate", "--check", "--out", str(stale))
    assert result.returncode == 1
    assert str(stale / "prometheus" / "prometheus.yml") in result.stderr


def test_report_verifies_an_audit_log_and_names_a_tampered_line(tmp_path: Path) -> None:
    from tests.test_audit import write_days

    write_days(tmp_path, (2, 1))
    result = gatewatch("report", "audit", "verify", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "5 lines in 2 files" in result.stdout and "chain intact" in result.stdout
    first = sorted(tmp_path.glob("*.jsonl"))[0]
    first.write_bytes(first.read_bytes().replace(b"req-0-1", b"req-0-9"))
    tampered = gatewatch("report", "audit", "verify", str(tmp_path))
    assert tampered.returncode != 0
    assert first.name in tampered.stdout + tampered.stderr


def test_drill_refuses_a_broken_spec_with_status_2_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("teams: [\n", encoding="utf-8")
    result = gatewatch("drill", "--spec", str(broken))
    assert result.returncode == 2
    assert result.stderr.startswith("drills: ") and str(broken) in result.stderr


def test_simulate_backfills_openmetrics_history(tmp_path: Path) -> None:
    out = tmp_path / "history.om"
    result = gatewatch("simulate", "--spec", str(EXAMPLE_SPEC), "--backfill", "--rate", "2", "--step", "300",
                       "--start", "2026-10-01T00:00:00Z", "--end", "2026-10-01T00:30:00Z", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[-1] == "# EOF"
    requests = [line for line in lines if line.startswith("genai_requests_total{")]
    # A sample every 300 s after the first record: 00:05, 00:10, … 00:30 on 2026-10-01 (UTC).
    october_first = 1_790_812_800
    assert {int(line.rsplit(" ", 1)[1]) for line in requests} == {october_first + 300 * k for k in range(1, 7)}
