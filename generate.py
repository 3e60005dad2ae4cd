"""Render everything gatewatch generates from one spec: ``python generate.py [--spec] [--out] [--check]``.

Generators are pure functions (spec in, file contents out); only this script writes files.
Output is deterministic, so ``--check`` can fail CI when the committed ``build/`` is stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

from alerts import prometheus_config, prometheus_rules, routing
from alerts.timescale import compress
from collector import config as collector_config
from contract import spec as spec_model
from dashboards import render as dashboards
from deploy import render as kubernetes
from docsgen.metrics import render_metric_catalogue
from mixin.render import render as render_mixin
from portal import render as portal
from runbooks.render import render as render_runbooks

Generator = Callable[[spec_model.Spec], Mapping[str, str]]

GENERATORS: tuple[Generator, ...] = (
    render_metric_catalogue,
    prometheus_config.render,
    prometheus_rules.render,
    routing.render,
    render_runbooks,
    dashboards.render,
    collector_config.render,
    kubernetes.render,
    render_mixin,
)


def render_all(spec: spec_model.Spec, previous: spec_model.Spec | None = None) -> dict[str, str]:
    """Every file under build/; ``previous``, an older spec, adds what changed since it to the portal."""
    files: dict[str, str] = {}
    generators: tuple[Generator, ...] = (*GENERATORS, partial(portal.render, previous=previous))
    for generator in generators:
        for path, content in generator(spec).items():
            if path in files:
                raise RuntimeError(f"two generators write {path}")
            files[path] = content
    return dict(sorted(files.items()))


def time_scaled(files: Mapping[str, str], factor: float) -> dict[str, str]:
    """The build for drills: every duration in the rule files divided by ``factor`` (windows,
    offsets, ``for``, group intervals), nothing else changed. The promtool unit tests are left out:
    they prove the rules in real time."""
    rules = {p: text for p, text in files.items() if p.startswith("prometheus/rules/")}
    scaled = {p: text for p, text in files.items() if not p.startswith("prometheus/tests/")}
    scaled.update(compress(rules, factor))
    return scaled


def stale_files(files: Mapping[str, str], out: Path) -> list[str]:
    """Paths whose committed content differs from the rendering, plus files nothing renders."""
    stale = [p for p, content in files.items() if _read(out / p) != content]
    if out.exists():
        rendered = set(files)
        stale += sorted(
            str(f.relative_to(out)) for f in out.rglob("*") if f.is_file() and str(f.relative_to(out)) not in rendered
        )
    return stale


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write(files: Mapping[str, str], out: Path) -> None:
    for path, content in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if _read(target) != content:
            target.write_text(content, encoding="utf-8")
    for leftover in stale_files(files, out):
        if leftover not in files:
            (out / leftover).unlink()


def main(argv: Sequence[str] | None = None, prog: str = "python generate.py") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="ops.yaml", help="the spec file to render (default: ops.yaml)")
    parser.add_argument("--out", default="build", help="output directory (default: build/)")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, metavar="FACTOR",
        help="divide every window, offset and `for` in the rules by FACTOR (for drills: 60 makes an hour a "
             "minute); leaves out the promtool tests, which are written for real time (default: 1)",
    )
    parser.add_argument(
        "--previous", metavar="OLD_SPEC",
        help="an older spec file: the portal's 'What changed' page lists what differs from it",
    )
    parser.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 naming the files whose committed content is stale",
    )
    args = parser.parse_args(argv)
    try:
        spec = spec_model.load(args.spec)
        previous = spec_model.load(args.previous) if args.previous else None
        files = render_all(spec, previous)
        if args.time_scale != 1.0:
            files = time_scaled(files, args.time_scale)
    except spec_model.SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # a time-scale factor that is not a positive number
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if args.check:
        stale = stale_files(files, out)
        if stale:
            print(f"{out}/ is stale; run `python generate.py` and commit. Stale files:", file=sys.stderr)
            for path in stale:
                print(f"  {out / path}", file=sys.stderr)
            return 1
        print(f"{out}/ is up to date ({len(files)} files)")
        return 0
    write(files, out)
    print(f"wrote {len(files)} files to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
