"""``python -m drills [--scenario NAME] [--time-scale N]``: run the incident drills on the real
stack and print who was notified of what, how fast, with which runbook. Exits 1 when a row of
the table does not hold."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from contract import spec as spec_model
from drills import run
from drills.scenarios import scenarios
from drills.stack import MissingBinaryError, alertmanager_binary, prometheus_binary


def parser(names: list[str], prog: str = "python -m drills") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument("--spec", type=Path, default=Path("ops.yaml"), help="the spec (default: %(default)s)")
    p.add_argument("--scenario", action="append", choices=names, metavar="NAME",
                   help=f"run only this drill (repeatable): {', '.join(names)}; default: all")
    p.add_argument("--time-scale", type=float, default=run.FACTOR, metavar="N",
                   help="divide every rule window, offset and for, and Alertmanager's group_wait, "
                        "group_interval and repeat_interval by N (default: %(default)g; keep 5m / N "
                        "at several 250 ms scrapes)")
    p.add_argument("--parallel", type=int, default=run.PARALLEL, metavar="N",
                   help="drills at once, each on its own stack (default: %(default)s)")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "python -m drills") -> int:
    spec_path = Path("ops.yaml")
    known = ["normal", "provider_outage", "cost_runaway", "runaway_loop", "prompt_injection_burst", "pii_leak",
             "key_compromise", "latency_degradation", "exporter_killed"]
    args = parser(known, prog).parse_args(argv)
    spec_path = args.spec
    try:
        spec = spec_model.load(spec_path)
        prometheus_binary()
        alertmanager_binary()
    except (spec_model.SpecError, MissingBinaryError) as err:
        print(f"drills: {err}", file=sys.stderr)
        return 2
    table = scenarios(spec)
    chosen = [s for s in table if not args.scenario or s.name in args.scenario]
    print(f"drills: {len(chosen)} scenario(s), time scale {args.time_scale:g}, {args.parallel} at once ...",
          file=sys.stderr)
    outcomes = run.drill_all(spec, spec_path, chosen, factor=args.time_scale, parallel=args.parallel)
    print(run.table(outcomes))
    return 0 if all(o.holds for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
