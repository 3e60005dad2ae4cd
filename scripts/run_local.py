"""`make run`: the local stack on the example spec, until Ctrl-C.

The exporter fed by the traffic simulator, a real Prometheus with the generated config and rules,
and a real Alertmanager with the generated routing, every receiver pointed at a local webhook sink
that prints each notification here (the real receivers need the organisation's secrets); and the
developer portal, built from build/portal/ with MkDocs and served on loopback. Without
the Prometheus and Alertmanager binaries it runs the exporter and simulator alone and says how to
get the rest. Everything listens on loopback; Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from contract import spec as spec_model
from drills.stack import MissingBinaryError, Stack
from portal.site_build import SiteBuildError, build, serve

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
# Alerting rules load after this much traffic: a cold Prometheus has no past, and rules that
# compare a rate with its own baseline would read every new app as an anomaly.
ARM_AFTER_SECONDS = 90.0
PORTAL_SOURCES = ROOT / "build" / "portal"
PORTAL_SITE = RUN_DIR / "portal-site"


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _simulator(target: str, spec: str, scenario: str, rate: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "simulate", "--target", target, "--scenario", scenario,
         "--rate", rate, "--duration", "0", "--spec", spec],
        cwd=ROOT,
    )


def _print_notifications(stack: Stack, stop: threading.Event) -> None:
    shown = 0
    while not stop.wait(1.0):
        received = stack.sink.received()
        for note in received[shown:]:
            for alert in note.alerts:
                labels, annotations = alert["labels"], alert.get("annotations", {})
                print(f"[{note.receiver}] {note.status.upper()} {labels.get('alertname')} "
                      f"team={labels.get('team')}: {annotations.get('summary', '')}\n"
                      f"    runbook: {annotations.get('runbook_url', '')}", flush=True)
        shown = len(received)


def _arm_later(stack: Stack, stop: threading.Event) -> None:
    if not stop.wait(ARM_AFTER_SECONDS):
        stack.arm()
        print(f"alerting rules loaded after {ARM_AFTER_SECONDS:.0f} s of traffic", flush=True)


def run_stack(spec: spec_model.Spec, args: argparse.Namespace) -> int:
    workdir = RUN_DIR / "stack"
    shutil.rmtree(workdir, ignore_errors=True)
    stop = threading.Event()
    with Stack(workdir, spec, Path(args.spec), factor=1.0) as stack:
        simulator = _simulator(stack.exporter_url, args.spec, args.scenario, args.rate)
        threading.Thread(target=_print_notifications, args=(stack, stop), daemon=True).start()
        threading.Thread(target=_arm_later, args=(stack, stop), daemon=True).start()
        print(
            "\ngatewatch is running:\n"
            f"  exporter       {stack.exporter_url}/metrics   (POST /ingest/litellm | /ingest/kong | /ingest/events)\n"
            f"  Prometheus     {stack.prometheus_url}   alerts: {stack.prometheus_url}/alerts\n"
            f"  Alertmanager   {stack.alertmanager_url}   (receivers print here)\n"
            f"  simulator      scenario {args.scenario}, {args.rate} records/s\n"
            f"  runbooks       {workdir / 'runbooks'}   generated build: {ROOT / 'build'}\n"
            f"  audit trail    {stack.audit_dir}   (python -m reports audit verify {stack.audit_dir})\n"
            f"  exporter state {stack.state_dir}   (review verdicts and compliance results go here)\n"
            f"  portal         {args.portal_url}   (sources: {PORTAL_SOURCES}, built into {PORTAL_SITE})\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        try:
            while simulator.poll() is None:
                time.sleep(0.5)
            print(f"the simulator exited with code {simulator.returncode}; stopping", file=sys.stderr)
            return 1
        finally:
            stop.set()
            if simulator.poll() is None:
                simulator.terminate()
                simulator.wait(timeout=10)


def start_portal(listen: str) -> str:
    """Build the developer portal from the generated sources and serve it; returns its URL."""
    host, _, port = listen.rpartition(":")
    if host != "127.0.0.1":
        raise ValueError(f"the portal listens on 127.0.0.1 only, got {listen!r}")
    build(PORTAL_SOURCES / "mkdocs.yml", PORTAL_SITE)
    _server, url = serve(PORTAL_SITE, int(port))
    print(f"developer portal: {url}  (sources {PORTAL_SOURCES}, site {PORTAL_SITE})", flush=True)
    return url


def run_exporter_only(args: argparse.Namespace) -> int:
    state = RUN_DIR / "state"
    state.mkdir(parents=True, exist_ok=True)
    base = f"http://{args.listen}"
    exporter = subprocess.Popen(
        [sys.executable, "-m", "exporter", "--spec", args.spec, "--listen", args.listen, "--state-dir", str(state)],
        cwd=ROOT,
    )
    simulator: subprocess.Popen[bytes] | None = None
    try:
        time.sleep(2)
        simulator = _simulator(base, args.spec, args.scenario, args.rate)
        print(f"\nexporter {base}/metrics, simulator {args.scenario} at {args.rate} records/s, "
              f"portal {args.portal_url}. Ctrl-C stops.\n",
              flush=True)
        while exporter.poll() is None and simulator.poll() is None:
            time.sleep(0.5)
        return 1
    finally:
        for process in (simulator, exporter):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="ops.yaml")
    parser.add_argument("--listen", default="127.0.0.1:9464", help="exporter address when running it alone")
    parser.add_argument("--scenario", default="normal", help="simulator scenario (default: normal)")
    parser.add_argument("--rate", default="20", help="simulated records per second (default: 20)")
    parser.add_argument("--portal-listen", default="127.0.0.1:8008", help="developer portal address")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        spec = spec_model.load(args.spec)
    except spec_model.SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        args.portal_url = start_portal(args.portal_listen)
    except (SiteBuildError, ValueError, OSError) as err:
        print(f"error: the developer portal did not start: {err}", file=sys.stderr)
        return 2
    try:
        try:
            return run_stack(spec, args)
        except MissingBinaryError as err:
            print(f"{err}\nRunning the exporter and simulator alone. For the whole stack install Prometheus and "
                  "Alertmanager (Debian: apt-get install prometheus prometheus-alertmanager; `make tools` does it "
                  "as root), or use `docker compose up` on a Docker host.", file=sys.stderr)
            return run_exporter_only(args)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
