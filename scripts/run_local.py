"""`make run`: the exporter on a spec, fed by the traffic simulator, until Ctrl-C.

Starts each process on loopback, prints where to look, and stops everything it started.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the exporter exited with code {process.returncode}; see its log above")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready within {timeout:.0f} s")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="ops.yaml")
    parser.add_argument("--listen", default="127.0.0.1:9464")
    parser.add_argument("--scenario", default="normal", help="simulator scenario (default: normal)")
    parser.add_argument("--rate", default="20", help="simulated records per second (default: 20)")
    args = parser.parse_args()

    base = f"http://{args.listen}"
    state = RUN_DIR / "state"
    state.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[bytes]] = []
    try:
        exporter = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--spec", args.spec, "--listen", args.listen,
             "--state-dir", str(state)],
            cwd=ROOT,
        )
        started.append(exporter)
        wait_ready(f"{base}/readyz", exporter)
        simulator = subprocess.Popen(
            [sys.executable, "-m", "exporter.simulate", "--target", base, "--scenario", args.scenario,
             "--rate", args.rate, "--duration", "0", "--spec", args.spec],
            cwd=ROOT,
        )
        started.append(simulator)
        print(
            "\ngatewatch is running:\n"
            f"  metrics        {base}/metrics\n"
            f"  health         {base}/healthz   {base}/readyz\n"
            f"  ingest         POST {base}/ingest/litellm | /ingest/kong | /ingest/events\n"
            f"  simulator      scenario {args.scenario}, {args.rate} records/s\n"
            f"  state          {state}\n"
            f"  generated      {ROOT / 'build'}\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        signal.signal(signal.SIGTERM, _interrupt)
        while all(p.poll() is None for p in started):
            time.sleep(0.5)
        failed = next(p for p in started if p.poll() is not None)
        print(f"{failed.args[2]} exited with code {failed.returncode}; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        for process in reversed(started):
            if process.poll() is None:
                process.terminate()  # both flush and exit cleanly on SIGTERM
        for process in reversed(started):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
