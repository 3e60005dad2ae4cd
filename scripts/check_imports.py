"""The import check run by ``make lint``: no import cycles, and the layering of DESIGN.md.

    python scripts/check_imports.py [--root DIR]

Every ``import`` and ``from … import`` in the project's packages counts, including imports inside
functions and under ``if TYPE_CHECKING:`` (they still tie one module to another). Exit 0 when every
rule holds: cycles on ``KNOWN_CYCLES`` are printed as known, not failed. Exit 1 naming each
forbidden import, each new cycle and each allow-list entry whose cycle no longer exists.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# Every top-level package and module of the project is checked, except the tests (which may import
# anything and which nothing imports). A new one needs its layer below.
NOT_CHECKED = frozenset({"tests"})

# Every module's layer: the longest entry that is the module or one of its packages decides.
LAYERS: Mapping[str, str] = {
    # What every part shares; imports nothing else of the project.
    "contract": "contract",
    # The exporter is the service, except the modules below.
    "exporter": "service",
    # Files the reports write for the exporter or read from it, and the policy both judge by.
    "exporter.audit": "exchange",       # the hash-chained audit log: day files, verification, retention
    "exporter.verdicts": "exchange",    # the review verdict store
    "exporter.compliance": "exchange",  # the compliance headline
    "exporter.state_feed": "exchange",  # how the exporter re-reads those two files
    "exporter.state": "exchange",       # the state directory they are written into
    "exporter.policy": "exchange",      # approved models and classification tiers
    # Drives the service from outside, like the tests: posts or backfills simulated traffic.
    "simulate": "harness",
    "drills": "harness",
    "alerts": "generator",
    "dashboards": "generator",
    "collector": "generator",
    "runbooks": "generator",
    "deploy": "generator",
    "mixin": "generator",
    "portal": "generator",
    "docsgen": "generator",
    "generate": "generator",
    "reports": "reports",
    # The `gatewatch` command dispatches to every entry point; nothing imports it.
    "cli": "command",
}

EVERYTHING = frozenset({"contract", "exchange", "service", "generator", "reports", "harness", "command"})
MAY_IMPORT: Mapping[str, frozenset[str]] = {
    "contract": frozenset({"contract"}),
    "exchange": frozenset({"contract", "exchange"}),
    "service": frozenset({"contract", "exchange", "service"}),
    "generator": frozenset({"contract", "generator"}),
    "reports": frozenset({"contract", "exchange", "generator", "reports"}),
    "harness": EVERYTHING - {"command"},
    "command": EVERYTHING,
}

# Cycles that exist and are being taken apart: reported as known, not failed. An entry matches a
# cycle with exactly these members; remove it once the cycle is gone (the check says when).
KNOWN_CYCLES: tuple[frozenset[str], ...] = ()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.imported}"


@dataclass(frozen=True)
class Report:
    unlayered: tuple[str, ...]
    stale_layers: tuple[str, ...]
    forbidden: tuple[tuple[Import, str, str], ...]
    new_cycles: tuple[tuple[str, ...], ...]
    known_cycles: tuple[tuple[str, ...], ...]
    stale_allowances: tuple[tuple[str, ...], ...]

    @property
    def ok(self) -> bool:
        return not (self.unlayered or self.stale_layers or self.forbidden or self.new_cycles or self.stale_allowances)


def modules(root: Path) -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in sorted(d for d in root.iterdir() if (d / "__init__.py").is_file() and d.name not in NOT_CHECKED):
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    for script in sorted(root.glob("*.py")):
        found[script.stem] = script
    return found


def imports(name: str, path: Path, known: Mapping[str, Path]) -> Iterator[Import]:
    """The project modules ``name`` imports: ``from p import m`` names module ``p.m`` when there is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _nearest(alias.name, known)
                if target:
                    yield Import(name, target, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            targets = {
                (_nearest(f"{source}.{alias.name}", known) if alias.name != "*" else None) or _nearest(source, known)
                for alias in node.names
            }
            for target in sorted(t for t in targets if t):
                yield Import(name, target, node.lineno)


def _nearest(dotted: str, known: Mapping[str, Path]) -> str | None:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        layer = LAYERS.get(".".join(parts[:end]))
        if layer:
            return layer
    return None


def cycles(graph: Mapping[str, Iterable[str]]) -> list[tuple[str, ...]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


def check(root: Path, known_cycles: Iterable[frozenset[str]] = KNOWN_CYCLES) -> Report:
    found = modules(root)
    edges = [i for name, path in found.items() for i in imports(name, path, found) if i.imported != name]
    unlayered = tuple(name for name in found if layer_of(name) is None)
    stale_layers = tuple(entry for entry in LAYERS
                         if not any(name == entry or name.startswith(f"{entry}.") for name in found))
    forbidden = []
    for edge in edges:
        source, target = layer_of(edge.importer), layer_of(edge.imported)
        if source is not None and target is not None and target not in MAY_IMPORT[source]:
            forbidden.append((edge, source, target))
    module_graph: dict[str, set[str]] = {name: set() for name in found}
    package_graph: dict[str, set[str]] = {}
    for edge in edges:
        module_graph[edge.importer].add(edge.imported)
        a, b = edge.importer.split(".")[0], edge.imported.split(".")[0]
        package_graph.setdefault(a, set())
        if a != b:
            package_graph[a].add(b)
    every_cycle = cycles(package_graph) + cycles(module_graph)
    allowed = set(known_cycles)
    known = tuple(c for c in every_cycle if frozenset(c) in allowed)
    new = tuple(c for c in every_cycle if frozenset(c) not in allowed)
    present = {frozenset(c) for c in every_cycle}
    stale = tuple(sorted(tuple(sorted(a)) for a in allowed if a not in present))
    return Report(unlayered, stale_layers, tuple(forbidden), new, known, stale)


def render(report: Report) -> str:
    lines = [f"{name} has no layer: add it, or its package, to LAYERS" for name in report.unlayered]
    lines += [f"LAYERS names {entry}, which is no module of the project: remove or rename it"
              for entry in report.stale_layers]
    for edge, source, target in report.forbidden:
        allowed = ", ".join(sorted(MAY_IMPORT[source]))
        lines.append(f"forbidden import: {edge}: a {source} module may import only {allowed}, not {target}")
    for cycle in report.new_cycles:
        lines.append(f"import cycle: {' <-> '.join(cycle)}")
    for cycle in report.stale_allowances:
        lines.append(f"no longer a cycle, remove it from KNOWN_CYCLES: {' <-> '.join(cycle)}")
    for cycle in report.known_cycles:
        lines.append(f"known import cycle, to remove: {' <-> '.join(cycle)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the project's root directory (default: this checkout)")
    args = parser.parse_args(argv)
    report = check(args.root)
    text = render(report)
    if text:
        print(text, file=sys.stderr if not report.ok else sys.stdout)
    if report.ok:
        print("imports: no forbidden import, no new cycle")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
