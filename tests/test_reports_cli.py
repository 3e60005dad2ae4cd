"""``python -m reports chargeback`` end to end: every format against a real Prometheus, and the
failures (no data, unreachable server, bad arguments) as one line and a non-zero exit, no file."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from contract import spec as spec_model
from tests.paths import EXAMPLE_SPEC
from tests.support.history import History, Segment
from tests.support.prometheus import Prometheus, free_port

SPEC = spec_model.load(EXAMPLE_SPEC)
OCT = 1_790_812_800.0  # 2026-10-01T00:00:00Z
DAY = 86_400.0
HISTORY = History(SPEC, (Segment(OCT, OCT + 4 * DAY, 3),), rate=0.01, step=21_600.0)
ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reports", *args], capture_output=True, text=True, cwd=ROOT,
                          check=False,
                          timeout=120)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Prometheus:
    with HISTORY.serve(tmp_path_factory.mktemp("cli")) as prom:
        yield prom


def chargeback(url: str, out: Path, fmt: str, *period: str) -> subprocess.CompletedProcess[str]:
    period = period or ("--start", "2026-10-01", "--end", "2026-10-04")
    return run("chargeback", "--prometheus", url, "--spec", str(EXAMPLE_SPEC), *period,
               "--format", fmt, "--out", str(out))


def test_csv_total_matches_the_records(prometheus: Prometheus, tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    done = chargeback(prometheus.url, out, "csv")
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    total = [r for r in rows if r["team"] == "TOTAL"]
    truth = HISTORY.truth(OCT, OCT + 3 * DAY)
    assert float(total[0]["cost_usd"]) == pytest.approx(truth.total_cost(), rel=1e-3)
    teams = {r["team"] for r in rows} - {"TOTAL"}
    assert {t for t, c in truth.cost.items() if c > 0} <= teams
    assert "reached the gatewatch exporter" in text.splitlines()[-1]
    assert "@" not in text  # no emails


def test_markdown_and_html(prometheus: Prometheus, tmp_path: Path) -> None:
    md, page = tmp_path / "c.md", tmp_path / "c.html"
    assert chargeback(prometheus.url, md, "md").returncode == 0
    assert chargeback(prometheus.url, page, "html").returncode == 0
    text = md.read_text()
    assert text.startswith("# gatewatch chargeback 2026-10-01 to 2026-10-04")
    assert "| Team | Cost centre |" in text and "CC-1040" in text and "reached the gatewatch exporter" in text
    body = page.read_text()
    assert body.startswith("<!DOCTYPE html>") and "<svg" in body and "</html>" in body
    # Self-contained: no external scripts, styles or images.
    for external in ("<script", "<link", "src=", "http://cdn", "https://"):
        assert external not in body


def test_focus_one_row_per_team_app_model_day(prometheus: Prometheus, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    assert chargeback(prometheus.url, out, "focus").returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    keys = [(r["ChargePeriodStart"], r["x_Team"], r["x_App"], r["ResourceName"], r["ProviderName"],
             r["x_AllocatedFrom"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert {r["ChargePeriodStart"][:10] for r in rows} == {"2026-10-01", "2026-10-02", "2026-10-03"}
    total = sum(float(r["BilledCost"]) for r in rows)
    assert total == pytest.approx(HISTORY.truth(OCT, OCT + 3 * DAY).total_cost(), rel=1e-3)


@pytest.mark.parametrize("fmt", ["csv", "focus"])
def test_no_data_is_an_error_and_no_file(prometheus: Prometheus, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "none.csv"
    done = chargeback(prometheus.url, out, fmt, "--month", "2025-03")
    assert done.returncode == 2
    assert done.stderr.startswith("error: no gatewatch data between 2025-03-01T00:00:00Z and 2025-04-01T00:00:00Z")
    assert "Traceback" not in done.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unreachable_prometheus(tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    done = chargeback(f"http://127.0.0.1:{free_port()}", out, "csv", "--month", "2026-10")
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot reach Prometheus at http://127.0.0.1:")
    assert "Traceback" not in done.stderr and not out.exists()


def test_unknown_host(tmp_path: Path) -> None:
    done = chargeback("http://no-such-host.invalid:9090", tmp_path / "x.csv", "csv", "--month", "2026-10")
    assert done.returncode == 2 and "error: cannot reach Prometheus" in done.stderr


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (("--month", "2026-13"), "month must look like YYYY-MM"),
        (("--start", "2026-10-05", "--end", "2026-10-01"), "must be after the start"),
        (("--start", "2026-10-05"), "give --month YYYY-MM or both --start and --end"),
    ],
)
def test_bad_periods(tmp_path: Path, period: tuple[str, ...], message: str) -> None:
    done = chargeback("http://127.0.0.1:1", tmp_path / "x.csv", "csv", *period)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [[], ["chargeback"]])
def test_help(command: list[str]) -> None:
    done = run(*command, "--help")
    assert done.returncode == 0 and "usage:" in done.stdout
