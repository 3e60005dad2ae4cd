"""The running exporter: spec, pipeline, HTTP server, file tails, snapshots, OTLP and signals.

Start-up order matters: signal handlers first (so an early SIGTERM or SIGHUP is never fatal by
default), then the spec, the state restore and the listening socket; readiness only after all
of them. Shutdown is the reverse: refuse new ingests, let those in flight finish, stop the tails,
write the final snapshot, make the last OTLP push.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from contract import catalog
from contract import spec as spec_model
from contract.spec import Spec, SpecError, spec_hash
from exporter.audit import AuditWriter, verify
from exporter.compliance import ComplianceFeed
from exporter.pipeline import Pipeline, StateRefused
from exporter.recorder import Recorder
from exporter.runtime import tune_garbage_collector
from exporter.server import App, ExporterServer, Listen
from exporter.state import StateStore
from exporter.state_feed import StateFileFeed
from exporter.tail import FileTail
from exporter.verdicts import VerdictGauges

log = logging.getLogger("gatewatch.service")

DRAIN_SECONDS = 10.0
AUDIT_FLUSH_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Options:
    spec_path: Path
    listen: Listen
    tails: tuple[tuple[Path, str], ...] = ()
    state_dir: Path | None = None
    otlp_endpoint: str | None = None
    otlp_interval: float = 15.0
    ingest_token_env: str | None = None
    audit_dir: Path | None = None


class _Signals:
    """Signals for the main thread, through a wakeup pipe.

    A process-directed signal may land on any thread; a main thread blocked in a lock wait
    would then sleep through it. The interpreter writes every signal number to the wakeup fd
    from whichever thread caught it, and the main thread blocks reading that pipe instead.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def install(self) -> None:
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, _ignore)  # replaces the default action; the pipe carries the work

    def wait(self) -> int:
        while True:
            data = os.read(self._read, 1)
            if data and data[0] in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                return data[0]


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    pass


class StartupError(Exception):
    """The exporter cannot start; the message says why, for stderr."""


def run(options: Options) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit code."""
    tune_garbage_collector()
    signals = _Signals()
    signals.install()
    try:
        spec = spec_model.load(options.spec_path)
    except SpecError as err:
        print(err, file=sys.stderr)
        return 2
    try:
        state = _state_store(options.state_dir)
        recorder = Recorder(
            max_series_per_metric=spec.ingest.cardinality.max_series_per_metric,
            token_usage_histogram=bool(options.otlp_endpoint),
        )
        audit = _audit_writer(options.audit_dir, spec)
        pipeline = _pipeline(spec, recorder, state, audit)
        # Files the reports drop into the state directory: review verdicts, the compliance headline.
        feeds: list[StateFileFeed[Any]] = [VerdictGauges(state.directory if state is not None else None)]
        if state is not None:
            feeds.append(ComplianceFeed(state.directory))
        pipeline.before_scrape.extend(feed.publish for feed in feeds)
        app = App(pipeline, token_env=options.ingest_token_env)
        app.notes.extend(pipeline.state_notes)
        server = _bind(options.listen, app)
        sink = _otlp_sink(options, pipeline)
    except StartupError as err:
        print(err, file=sys.stderr)
        return 1

    tails = [
        FileTail(path, fmt, pipeline, max_line_bytes=spec.ingest.max_body_bytes,
                 on_gap=lambda reason: _count_tail_gap(pipeline, reason))
        for path, fmt in options.tails
    ]
    if tails:
        for reason in catalog.TAIL_GAP_REASONS:  # present from the first scrape, so rules see a first gap
            pipeline.read(partial(_zero_tail_gaps, reason))
    stop_snapshots = threading.Event()
    threads = [threading.Thread(target=server.serve_forever, name="http", daemon=True)]
    if state is not None:
        threads.append(threading.Thread(
            target=_snapshot_loop, args=(pipeline, stop_snapshots), name="snapshots", daemon=True,
        ))
    if audit is not None:
        threads.append(threading.Thread(
            target=_audit_loop, args=(pipeline, stop_snapshots), name="audit", daemon=True,
        ))
        threads.append(threading.Thread(
            target=_verify_audit, args=(pipeline, audit), name="audit-verify", daemon=True,
        ))
    for thread in threads:
        thread.start()
    for tail in tails:
        tail.start()
    if sink is not None:
        sink.start()
    _announce(options, app, server, spec, state)
    app.ready.set()

    while (signum := signals.wait()) == signal.SIGHUP:
        reload(options.spec_path, pipeline)
        # SIGHUP also re-reads the state directory's report files, whatever their modification time says.
        for feed in feeds:
            pipeline.read(partial(_publish_now, feed, pipeline))
    log.info("received %s; shutting down", signal.Signals(signum).name)

    if not app.drain(DRAIN_SECONDS):
        log.warning("ingests still in flight after %.0f s; stopping anyway", DRAIN_SECONDS)
    server.shutdown()
    server.server_close()
    for tail in tails:
        tail.stop()
    stop_snapshots.set()
    pipeline.close_audit()
    pipeline.save()
    pipeline.close()
    app.rejections.flush()
    if sink is not None:
        sink.stop()
    log.info("stopped")
    return 0


def reload(path: Path, pipeline: Pipeline) -> bool:
    """Swap in the spec at ``path``; a broken spec is refused and the running one kept."""
    try:
        new = spec_model.load(path)
        pipeline.reload(new)
    except SpecError as err:
        log.error("spec reload refused; still running the previous spec: %s", err)
        _count_reload(pipeline, "failure")
        return False
    except Exception as err:
        log.error("spec reload failed (%s); still running the previous spec", type(err).__name__)
        _count_reload(pipeline, "failure")
        return False
    log.info("spec reloaded from %s (hash %s)", path, spec_hash(new))
    _count_reload(pipeline, "success")
    return True


def _state_store(directory: Path | None) -> StateStore | None:
    if directory is None:
        return None
    try:
        state = StateStore(directory)
    except OSError as err:
        raise StartupError(f"cannot use the state directory {directory}: {err.strerror}") from None
    if not os.access(state.directory, os.W_OK | os.X_OK):
        raise StartupError(f"cannot write to the state directory {directory}")
    return state


def _pipeline(spec: Spec, recorder: Recorder, state: StateStore | None, audit: AuditWriter | None) -> Pipeline:
    try:
        return Pipeline(spec, recorder=recorder, state=state, audit=audit)
    except StateRefused as err:
        raise StartupError(str(err)) from None
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        raise StartupError(f"cannot use the state directory{where}: {err.strerror or err}") from None


def _audit_writer(directory: Path | None, spec: Spec) -> AuditWriter | None:
    if directory is None:
        return None
    try:
        audit = AuditWriter(directory, retention_max_days=spec.audit.retention_max_days)
    except OSError as err:
        raise StartupError(f"cannot use the audit directory {directory}: {err.strerror or err}") from None
    if not os.access(audit.directory, os.W_OK | os.X_OK):
        raise StartupError(f"cannot write to the audit directory {directory}")
    return audit


def _audit_loop(pipeline: Pipeline, stop: threading.Event) -> None:
    # Audit lines are written at least every second, besides every scrape and snapshot.
    while not stop.wait(AUDIT_FLUSH_SECONDS):
        try:
            pipeline.audit_tick()
        except Exception:
            log.exception("audit log maintenance failed; the next round will retry")


def _verify_audit(pipeline: Pipeline, audit: AuditWriter) -> None:
    """Verify the chain as it was at start, off the main thread (a long log takes a while)."""
    try:
        result = verify(audit.directory, upto_seq=audit.recovered_seq or None)
    except Exception:
        log.exception("could not verify the audit log at start")
        result = None
    intact = result is not None and result.intact
    pipeline.read(lambda rec: rec.set(catalog.AUDIT_CHAIN_VERIFIED, (), 1.0 if intact else 0.0))
    if result is None:
        return
    if intact:
        log.info("audit log verified: %d lines in %d files, chain intact", result.lines, result.files)
        return
    log.error("audit log chain broken: %d problem(s); run python -m reports audit verify %s",
              len(result.problems), audit.directory)
    for problem in result.problems[:20]:
        log.error("audit: %s", problem)


def _bind(listen: Listen, app: App) -> ExporterServer:
    try:
        return ExporterServer(listen, app)
    except OSError as err:
        reason = "address already in use" if err.errno == errno.EADDRINUSE else (err.strerror or str(err))
        raise StartupError(f"cannot listen on {listen}: {reason}") from None


def _count_reload(pipeline: Pipeline, result: str) -> None:
    pipeline.read(lambda rec: rec.inc(catalog.EXPORTER_SPEC_RELOADS, (result,)))


def _zero_tail_gaps(reason: str, rec: Recorder) -> None:
    rec.inc(catalog.EXPORTER_TAIL_GAPS, (reason,), 0.0)


def _publish_now(feed: StateFileFeed[Any], pipeline: Pipeline, rec: Recorder) -> None:
    feed.publish(rec, pipeline.spec, force=True)


def _count_tail_gap(pipeline: Pipeline, reason: str) -> None:
    pipeline.read(lambda rec: rec.inc(catalog.EXPORTER_TAIL_GAPS, (reason,)))


def _snapshot_loop(pipeline: Pipeline, stop: threading.Event) -> None:
    # Read the interval each round so a reload that changes it takes effect.
    while not stop.wait(pipeline.spec.ingest.snapshot_interval_seconds):
        try:
            pipeline.save()
        except Exception:
            log.exception("periodic snapshot failed; the next one will retry")


def _otlp_sink(options: Options, pipeline: Pipeline) -> Any:
    """The OTLP sink when an endpoint is given, else None."""
    if not options.otlp_endpoint:
        return None
    try:
        # Imported here: protobuf costs a tenth of a second at start-up, paid only when asked for.
        from exporter.otlp import OtlpSink  # noqa: PLC0415
    except ImportError as err:
        raise StartupError(f"OTLP push is not available in this installation: {err}") from None
    try:
        return OtlpSink(options.otlp_endpoint, pipeline, interval=options.otlp_interval)
    except ValueError as err:
        raise StartupError(f"--otlp-endpoint / --otlp-interval: {err}") from None


def _announce(options: Options, app: App, server: ExporterServer, spec: Spec, state: StateStore | None) -> None:
    log.info("listening on %s", server.url)
    log.info("spec %s (hash %s): %d teams, %d apps, %d models", options.spec_path, spec_hash(spec),
             len(spec.teams), len(spec.apps), len(spec.models))
    if state is None:
        log.info("no --state-dir: counters and tail offsets start from zero on every restart")
    else:
        log.info("state directory %s", state.directory)
    for path, fmt in options.tails:
        log.info("tailing %s as %s records", path, fmt)
    if options.otlp_endpoint:
        log.info("pushing OTLP metrics every %.0f s", options.otlp_interval)
    if options.audit_dir is not None:
        log.info("audit log in %s (retention %d to %d days)", options.audit_dir, spec.audit.retention_min_days,
                 spec.audit.retention_max_days)
    name = app.token_env
    if app.expected_token() is not None:
        log.info("ingest requires a bearer token (from $%s)", name)
    elif options.listen.host in ("127.0.0.1", "::1", "localhost"):
        log.info("ingest accepts posts without a token%s", f" (${name} is not set)" if name else "")
    else:
        log.warning("ingest accepts posts without a token on %s; %s", options.listen,
                    f"set ${name} to require one" if name
                    else "name a token variable with ingest.token_env or --ingest-token-env")
