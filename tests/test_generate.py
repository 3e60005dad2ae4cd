"""generate.py as a platform team runs it in CI: write, then --check names whatever is stale."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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
