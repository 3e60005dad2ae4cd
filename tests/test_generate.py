"""generate.py as a platform team runs it in CI: write, then --check names whatever is stale."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.paths import EXAMPLE_SPEC, ROOT


def generate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "generate.py", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_check_passes_on_a_fresh_render_and_names_each_stale_file(tmp_path: Path) -> None:
    out = tmp_path / "build"
    assert generate("--spec", EXAMPLE_SPEC, "--out", out).returncode == 0
    assert generate("--spec", EXAMPLE_SPEC, "--out", out, "--check").returncode == 0

    edited = out / "prometheus" / "rules" / "gatewatch-alerts.yml"
    edited.write_text(edited.read_text() + "# hand edit\n")
    (out / "runbooks" / "Watchdog.md").unlink()
    (out / "runbooks" / "Orphan.md").write_text("not rendered by anything\n")
    check = generate("--spec", EXAMPLE_SPEC, "--out", out, "--check")
    assert check.returncode == 1
    stale = {line.strip() for line in check.stderr.splitlines()[1:]}
    assert stale == {f"{out}/prometheus/rules/gatewatch-alerts.yml", f"{out}/runbooks/Watchdog.md",
                     f"{out}/runbooks/Orphan.md"}


def test_regenerating_repairs_the_output_and_removes_what_nothing_renders(tmp_path: Path) -> None:
    out = tmp_path / "build"
    shutil.copytree(ROOT / "build", out)
    (out / "runbooks" / "Orphan.md").write_text("left over\n")
    assert generate("--spec", EXAMPLE_SPEC, "--out", out).returncode == 0
    assert not (out / "runbooks" / "Orphan.md").exists()
    assert generate("--spec", EXAMPLE_SPEC, "--out", out, "--check").returncode == 0


def test_time_scale_divides_every_rule_duration_and_leaves_out_the_real_time_tests(tmp_path: Path) -> None:
    out = tmp_path / "drill"
    assert generate("--spec", EXAMPLE_SPEC, "--out", out, "--time-scale", "60").returncode == 0
    alerts = yaml.safe_load((out / "prometheus" / "rules" / "gatewatch-alerts.yml").read_text())
    recording = yaml.safe_load((out / "prometheus" / "rules" / "gatewatch-recording.yml").read_text())
    by_name = {r["alert"]: r for g in alerts["groups"] for r in g["rules"] if "alert" in r}
    assert by_name["GenAIBudgetOverrunProjected"]["for"] == "2m"  # 2h / 60
    assert by_name["GenAICostAnomaly"]["for"] == "5s"  # 5m / 60
    assert "offset 2h48m" in by_name["GenAICostAnomaly"]["expr"]  # 1w / 60
    hourly = next(g for g in recording["groups"] if g.get("interval"))
    assert hourly["interval"] == "1m"  # 1h / 60
    assert not (out / "prometheus" / "tests").exists()
    real = yaml.safe_load((ROOT / "build" / "prometheus" / "rules" / "gatewatch-alerts.yml").read_text())
    real_alert = {r["alert"]: r for g in real["groups"] for r in g["rules"] if "alert" in r}["GenAICostAnomaly"]
    assert by_name["GenAICostAnomaly"]["labels"] == real_alert["labels"]
    assert by_name["GenAICostAnomaly"]["annotations"] == real_alert["annotations"]


def test_time_scale_must_be_positive(tmp_path: Path) -> None:
    run = generate("--spec", EXAMPLE_SPEC, "--out", tmp_path / "x", "--time-scale", "0")
    assert run.returncode == 2
    assert "positive" in run.stderr
    assert not (tmp_path / "x").exists()
