"""The import check of ``make lint`` (scripts/check_imports.py): the project passes it, and a planted
forbidden import or cycle in a copy of the project fails it, named."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.paths import ROOT

SCRIPT = ROOT / "scripts" / "check_imports.py"


def load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


checker = load_checker()


def run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's Python packages and top-level modules, to plant imports in."""
    for source in ROOT.iterdir():
        if (source / "__init__.py").is_file() and source.name not in checker.NOT_CHECKED:
            shutil.copytree(source, tmp_path / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.suffix == ".py":
            shutil.copy2(source, tmp_path / source.name)
    return tmp_path


def plant(root: Path, module: str, text: str) -> None:
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(text, encoding="utf-8")


def test_the_project_passes_and_reports_each_known_cycle_as_to_remove() -> None:
    result = run(ROOT)
    assert result.returncode == 0, result.stderr
    for cycle in checker.KNOWN_CYCLES:
        assert f"known import cycle, to remove: {' <-> '.join(sorted(cycle))}" in result.stdout


GENERATOR_RULE = "a generator module may import only contract, generator, not service"


@pytest.mark.parametrize(("importer", "line", "rule"), [
    ("alerts.planted", "from exporter import server\n", GENERATOR_RULE),
    ("dashboards.planted", "import exporter.pipeline\n", GENERATOR_RULE),
    ("reports.planted", "from exporter.recorder import Recorder\n",
     "a reports module may import only contract, exchange, generator, reports, not service"),
], ids=["generator-imports-server", "generator-imports-pipeline", "reports-import-recorder"])
def test_a_planted_import_of_the_service_fails_naming_it(project: Path, importer: str, line: str,
                                                          rule: str) -> None:
    plant(project, importer, line)
    result = run(project)
    assert result.returncode == 1
    assert f"forbidden import: {importer} (line 1) imports " in result.stderr
    assert rule in result.stderr


def test_a_contract_module_importing_the_service_fails(project: Path) -> None:
    catalog = project / "contract" / "catalog.py"
    catalog.write_text(catalog.read_text(encoding="utf-8") + "\nfrom exporter import recorder  # noqa\n",
                       encoding="utf-8")
    result = run(project)
    assert result.returncode == 1
    assert "forbidden import: contract.catalog" in result.stderr and "imports exporter.recorder" in result.stderr
    assert "a contract module may import only contract, not service" in result.stderr


def test_the_service_importing_a_generator_fails(project: Path) -> None:
    plant(project, "exporter.planted", "from alerts import recording\n")
    result = run(project)
    assert result.returncode == 1
    assert "forbidden import: exporter.planted (line 1) imports alerts.recording" in result.stderr


def test_a_planted_module_cycle_fails_naming_its_members(project: Path) -> None:
    plant(project, "collector.planted_a", "from collector import planted_b\n")
    plant(project, "collector.planted_b", "from . import planted_a\n")
    result = run(project)
    assert result.returncode == 1
    assert "import cycle: collector.planted_a <-> collector.planted_b" in result.stderr


def test_a_planted_package_cycle_fails(project: Path) -> None:
    # collector already imports alerts; alerts importing collector closes a cycle between the packages.
    plant(project, "alerts.planted", "from collector.config import render\n")
    result = run(project)
    assert result.returncode == 1
    assert "import cycle: alerts <-> collector\n" in result.stderr


def test_a_known_cycle_that_grows_is_a_new_cycle(project: Path) -> None:
    plant(project, "reports.planted", "from reports import chargeback\n")
    focus = project / "reports" / "focus.py"
    focus.write_text(focus.read_text(encoding="utf-8") + "\nfrom reports import planted  # noqa\n", encoding="utf-8")
    result = run(project)
    assert result.returncode == 1
    assert "import cycle: reports.chargeback <-> reports.focus <-> reports.outputs <-> reports.planted" in result.stderr


def test_an_allowance_without_its_cycle_fails_until_removed(project: Path) -> None:
    report = checker.check(project, (*checker.KNOWN_CYCLES, frozenset({"alerts.slo", "alerts.cost"})))
    assert not report.ok
    assert report.stale_allowances == (("alerts.cost", "alerts.slo"),)
    assert "no longer a cycle, remove it from KNOWN_CYCLES: alerts.cost <-> alerts.slo" in checker.render(report)


@pytest.mark.parametrize(("source", "module", "expected"), [
    ("from contract import spec\n", "alerts.x", ["contract.spec"]),
    ("from contract.spec import Spec, load\n", "alerts.x", ["contract.spec"]),
    ("import contract.catalog as c\n", "alerts.x", ["contract.catalog"]),
    ("from .panels import x\n", "dashboards.x", ["dashboards.panels"]),
    ("from . import panels\n", "dashboards.x", ["dashboards.panels"]),
    ("from .. import pricing\n", "exporter.adapters.x", ["exporter.pricing"]),
    ("def f():\n    from exporter import server\n", "alerts.x", ["exporter.server"]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from exporter import wal\n", "alerts.x",
     ["exporter.wal"]),
    ("import os, yaml\n", "alerts.x", []),
])
def test_imports_resolve_to_the_module_they_load(source: str, module: str, expected: list[str],
                                                 tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_text(source, encoding="utf-8")
    known = checker.modules(ROOT)
    assert [i.imported for i in checker.imports(module, path, known)] == expected


def test_every_module_of_the_project_has_a_layer() -> None:
    for name in checker.modules(ROOT):
        layer = checker.layer_of(name)
        assert layer is not None and layer in checker.MAY_IMPORT, name


def test_a_new_package_without_a_layer_fails_until_it_has_one(project: Path) -> None:
    (project / "planted").mkdir()
    (project / "planted" / "__init__.py").write_text("", encoding="utf-8")
    result = run(project)
    assert result.returncode == 1
    assert "planted has no layer: add it, or its package, to LAYERS" in result.stderr


def test_a_layer_entry_for_a_module_that_is_gone_fails(project: Path) -> None:
    shutil.rmtree(project / "simulate")
    result = run(project)
    assert result.returncode == 1
    assert "LAYERS names simulate, which is no module of the project" in result.stderr
