"""The whole rendered build, checked by the real promtool: config, rules (with lint), and every
generated unit test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from contract.spec import load
from generate import render_all, write
from tests.paths import EXAMPLE_SPEC
from tests.support.binaries import require

pytestmark = pytest.mark.binaries


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    write(render_all(load(EXAMPLE_SPEC)), out)
    return out


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require("promtool"), *map(str, args)], capture_output=True, text=True, check=False)


def test_prometheus_config_and_its_rule_files_pass_promtool(build: Path) -> None:
    run = promtool("check", "config", "--lint=all", "--lint-fatal", build / "prometheus" / "prometheus.yml")
    assert run.returncode == 0, run.stdout + run.stderr


def test_rule_files_pass_promtool_check_rules_with_lint(build: Path) -> None:
    rules = sorted((build / "prometheus" / "rules").glob("*.yml"))
    assert len(rules) == 2
    run = promtool("check", "rules", "--lint=all", "--lint-fatal", *rules)
    assert run.returncode == 0, run.stdout + run.stderr


def test_scrape_fragment_is_a_valid_scrape_config(build: Path, tmp_path: Path) -> None:
    fragment = (build / "prometheus" / "fragments" / "scrape-gatewatch.yml").read_text()
    config = tmp_path / "prometheus.yml"
    config.write_text(fragment)
    run = promtool("check", "config", config)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_generated_promtool_unit_test_passes(build: Path) -> None:
    tests = sorted((build / "prometheus" / "tests").glob("*.test.yml"))
    assert tests, "no unit tests rendered"
    run = promtool("test", "rules", *tests)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
