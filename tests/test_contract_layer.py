"""The contract package imports nothing else of gatewatch, so every part can depend on it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = sorted((ROOT / "contract").glob("*.py"))
PROJECT = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} | {"generate"}


def _imported(source: str) -> set[str]:
    tree = ast.parse(source)
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    return {name.split(".")[0] for name in names}


def _foreign(source: str) -> set[str]:
    return (_imported(source) & PROJECT) - {"contract"}


@pytest.mark.parametrize("path", CONTRACT, ids=lambda p: p.name)
def test_contract_module_imports_only_the_contract(path: Path) -> None:
    assert _foreign(path.read_text()) == set()


@pytest.mark.parametrize(("source", "foreign"), [
    ("from contract import catalog\n", {"exporter"}),
    ("import alerts.recording\n", {"alerts"}),
    ("from contract.catalog import OTHER\nimport re\n", set()),
])
def test_the_check_sees_a_planted_import(source: str, foreign: set[str]) -> None:
    assert _foreign(source) == foreign
