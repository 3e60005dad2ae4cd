"""Reconciliation against provider invoices: a real Prometheus holding known spend, the example
invoices, and invoices made to drift or to bill a model gatewatch never saw."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import spec as spec_module
from reports import cli, invoices, reconcile
from reports.prometheus import ReportError
from tests.support.openmetrics import serve_text
from tests.support.prometheus import Prometheus

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "ops.yaml"
EXAMPLES = ROOT / "examples" / "invoices"
MAY = (datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
HOUR = 3600.0


def invoice_totals(path: Path, model_column: str, cost_column: str, names: dict[str, str]) -> dict[str, float]:
    """The invoice's USD per spec model, tallied the plain way."""
    out: dict[str, float] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            raw = row[model_column].split(",")[0].strip()
            out[names[raw]] = out.get(names[raw], 0.0) + float(row[cost_column])
    return out


NAMES = {  # invoice names -> spec names, from ops.yaml's aliases by hand
    "gpt-4o-2024-08-06": "gpt-4o", "gpt-4o-mini-2024-07-18": "gpt-4o-mini", "o3": "o3",
    "text-embedding-3-small": "text-embedding-3-small", "claude-sonnet-4-20250514": "claude-sonnet-4",
    "claude-3-5-haiku-20241022": "claude-haiku-3-5",
}
OPENAI = invoice_totals(EXAMPLES / "openai-usage.csv", "line_item", "amount_value", NAMES)
ANTHROPIC = invoice_totals(EXAMPLES / "anthropic-usage.csv", "model", "cost_usd", NAMES)


def _series(team: str, app: str, model: str, provider: str) -> str:
    return f'genai_cost_usd_total{{team="{team}",app="{app}",model="{model}",provider="{provider}"}}'


def history(may_usd: dict[tuple[str, str], float]) -> dict[str, list[tuple[float, float]]]:
    """Hourly counter samples with the given May spend per (provider, model), split 60/40 over two
    apps, plus spend on 30 April and 1 June that must not count. gpt-4o-mini's first series is
    reset on 20 May (an exporter restart); o3's second series is first seen on 10 May at 07:00
    already holding spend (its first sample is all the increase() function would drop)."""
    start, end = MAY[0].timestamp() - 24 * HOUR, MAY[1].timestamp() + 12 * HOUR
    reset_at = datetime(2026, 5, 20, 9, tzinfo=UTC).timestamp()
    born_at = datetime(2026, 5, 10, 7, tzinfo=UTC).timestamp()
    out: dict[str, list[tuple[float, float]]] = {}
    for (provider, model), usd in may_usd.items():
        for share, team, app in ((0.6, "search", "search-api"), (0.4, "support", "zendesk-assist")):
            born = born_at if (model, team) == ("o3", "support") else start
            # Hours of May spend: every sample after May's start, the first one of a late series included.
            hours_in_may = (MAY[1].timestamp() - max(born, MAY[0].timestamp())) / HOUR + (born > start)
            per_hour = usd * share / hours_in_may
            value, samples, t = 0.0, [], born
            while t <= end:
                inside = MAY[0].timestamp() < t <= MAY[1].timestamp()
                if t == born and born > start:
                    value = per_hour  # the hour before its first scrape
                elif t > start:
                    value += per_hour if inside else 1.5
                if (model, team) == ("gpt-4o-mini", "search") and t == reset_at:
                    value = per_hour  # restarted: the counter lost everything but this hour
                samples.append((t, value))
                t += HOUR
            out[_series(team, app, model, provider)] = samples
    return out


def openmetrics(series: dict[str, list[tuple[float, float]]]) -> str:
    lines = ["# HELP genai_cost_usd Spend in USD.\n", "# TYPE genai_cost_usd counter\n"]
    for name, samples in series.items():
        lines.extend(f"{name} {value!r} {int(at)}\n" for at, value in samples)
    return "".join(lines) + "# EOF\n"


def serve(workdir: Path, series: dict[str, list[tuple[float, float]]]) -> Prometheus:
    return serve_text(openmetrics(series), workdir)


# gatewatch's May spend: the example invoices' totals, except gpt-4o-mini 1 % above (within 2 %).
GATEWATCH = {("openai", m): usd for m, usd in OPENAI.items()} | {("anthropic", m): usd for m, usd in ANTHROPIC.items()}
GATEWATCH[("openai", "gpt-4o-mini")] *= 1.01


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with serve(tmp_path_factory.mktemp("prom"), history(GATEWATCH)) as prom:
        yield prom


def run(prom_url: str, invoice: Path, mapping: str, tmp_path: Path, fmt: str = "csv",
        month: str = "2026-05") -> tuple[int, Path]:
    out = tmp_path / f"reconcile.{fmt}"
    code = cli.main(["reconcile", "--prometheus", prom_url, "--spec", str(SPEC), "--month", month,
                     "--invoice", str(invoice), "--mapping", mapping, "--format", fmt, "--out", str(out)])
    return code, out


def rows(path: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    with path.open() as handle:
        return {(r["level"], r["provider"], r["model"]): r for r in csv.DictReader(handle)}


def test_matching_openai_invoice_exits_0(prometheus: Prometheus, tmp_path: Path) -> None:
    code, out = run(prometheus.url, EXAMPLES / "openai-usage.csv", "openai", tmp_path)
    assert code == 0
    table = rows(out)
    assert {k for k in table if k[0] == "model"} == {("model", "openai", m) for m in OPENAI}
    for model, usd in OPENAI.items():
        row = table[("model", "openai", model)]
        assert float(row["invoice_usd"]) == pytest.approx(usd, abs=1e-5)
        expected = usd * (1.01 if model == "gpt-4o-mini" else 1.0)
        # o3 includes a series first seen mid-month; gpt-4o-mini a counter reset: both count in full.
        assert float(row["gatewatch_usd"]) == pytest.approx(expected, rel=1e-9), model
        assert row["status"] == "ok"
    mini = table[("model", "openai", "gpt-4o-mini")]
    assert float(mini["drift_percent"]) == pytest.approx(1.0, abs=1e-6)
    assert float(mini["drift_usd"]) == pytest.approx(OPENAI["gpt-4o-mini"] * 0.01, rel=1e-6)
    total = table[("provider", "openai", "")]
    assert float(total["invoice_usd"]) == pytest.approx(sum(OPENAI.values()), abs=1e-4)


def test_matching_anthropic_invoice_exits_0_and_says_what_was_left_out(prometheus: Prometheus,
                                                                        tmp_path: Path) -> None:
    code, out = run(prometheus.url, EXAMPLES / "anthropic-usage.csv", "anthropic", tmp_path, fmt="md")
    assert code == 0
    text = out.read_text()
    assert "Within tolerance" in text
    assert "| anthropic | claude-sonnet-4 |" in text
    assert "not compared: openai" in text  # gatewatch's OpenAI spend is not this invoice's business
    assert "reached the exporter" in text


def test_drift_beyond_tolerance_exits_1(prometheus: Prometheus, tmp_path: Path) -> None:
    # The invoice bills gpt-4o 10 % less than gatewatch saw: gatewatch is 11.1 % above it.
    source = (EXAMPLES / "openai-usage.csv").read_text().splitlines(keepends=True)
    drifted = [source[0]]
    for line in source[1:]:
        row = next(csv.reader([line]))
        if row[6].startswith("gpt-4o-2024-08-06"):
            row[7] = f"{float(row[7]) * 0.9:.6f}"
        drifted.append(",".join(f'"{c}"' if "," in c else c for c in row) + "\n")
    invoice = tmp_path / "drifted.csv"
    invoice.write_text("".join(drifted))
    code, out = run(prometheus.url, invoice, "openai", tmp_path)
    assert code == 1
    table = rows(out)
    row = table[("model", "openai", "gpt-4o")]
    assert row["status"] == "drift" and row["flagged"] == "true"
    assert float(row["drift_percent"]) == pytest.approx(100 / 9, abs=1e-3)
    assert [k[2] for k, r in table.items() if k[0] == "model" and r["flagged"] == "true"] == ["gpt-4o"]


def test_model_gatewatch_never_saw_and_the_reverse_exit_1(prometheus: Prometheus, tmp_path: Path) -> None:
    invoice = tmp_path / "generic.csv"
    invoice.write_text(
        "date,provider,model,cost_usd\n"
        f"2026-05-03,openai,gpt-4o-2024-08-06,{OPENAI['gpt-4o']}\n"
        f"2026-05-03,openai,gpt-4o-mini,{OPENAI['gpt-4o-mini'] * 1.01}\n"
        f"2026-05-04,openai,text-embedding-3-small,{OPENAI['text-embedding-3-small']}\n"
        "2026-05-09,openai,gpt-4.1,312.40\n"       # never seen by gatewatch
        "2026-06-02,openai,gpt-4o,999.00\n"         # June: not this month's business
    )  # and no o3 line, though gatewatch saw o3 spend
    code, out = run(prometheus.url, invoice, "generic", tmp_path)
    assert code == 1
    table = rows(out)
    assert table[("model", "openai", "gpt-4.1")]["status"] == "not seen by gatewatch"
    assert float(table[("model", "openai", "gpt-4.1")]["gatewatch_usd"]) == 0.0
    assert table[("model", "openai", "o3")]["status"] == "not on invoice"
    assert float(table[("model", "openai", "o3")]["invoice_usd"]) == 0.0
    assert table[("model", "openai", "gpt-4o")]["status"] == "ok"
    assert table[("model", "openai", "gpt-4o-mini")]["status"] == "ok"


def test_unreachable_prometheus_exits_2_without_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run("http://127.0.0.1:9", EXAMPLES / "openai-usage.csv", "openai", tmp_path)
    assert code == 2
    assert not out.exists()
    assert capsys.readouterr().err.startswith("error: cannot reach Prometheus at http://127.0.0.1:9")


def test_month_without_data_exits_2(prometheus: Prometheus, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    invoice = tmp_path / "jan.csv"
    invoice.write_text("date,provider,model,cost_usd\n2026-01-05,openai,gpt-4o,10\n")
    code, out = run(prometheus.url, invoice, "generic", tmp_path, month="2026-01")
    assert code == 2
    assert not out.exists()
    assert "no gatewatch data between 2026-01-01T00:00:00Z and 2026-02-01T00:00:00Z" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("gatewatch", "invoice", "status"),
    [
        (100.0, 100.0, "ok"),
        (102.0, 100.0, "ok"),             # exactly at the 2 % tolerance
        (102.01, 100.0, "drift"),
        (97.9, 100.0, "drift"),
        (None, 50.0, "not seen by gatewatch"),
        (50.0, None, "not on invoice"),
        (0.004, None, "ok"),              # under half a cent: zero on any invoice
        (None, 0.0, "ok"),
        (0.0, 12.0, "not seen by gatewatch"),
    ],
)
def test_status(gatewatch: float | None, invoice: float | None, status: str) -> None:
    assert reconcile.status_of(gatewatch, invoice, 2.0) == status


SPEC_OBJ = spec_module.load(SPEC)


def test_openai_mapping_takes_the_model_before_the_comma_and_keeps_the_month() -> None:
    text = ("start_time_iso,line_item,amount_value,amount_currency\n"
            "2026-04-30T00:00:00+00:00,\"gpt-4o-2024-08-06, input\",5.0,usd\n"
            "2026-05-01T00:00:00+00:00,\"gpt-4o-2024-08-06, input\",1.25,usd\n"
            "2026-05-01T00:00:00+00:00,\"gpt-4o, cached input\",0.5,usd\n"
            "2026-05-31T00:00:00Z,\"openai/o3, output\",2.0,usd\n")
    invoice = invoices.parse(text, invoices.MAPPINGS["openai"], SPEC_OBJ, *MAY)
    assert invoice.totals() == {("openai", "gpt-4o"): 1.75, ("openai", "o3"): 2.0}
    assert invoice.outside == 1
    assert invoice.lines[0].day == date(2026, 5, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,model,cost_usd\n2026-05-01,gpt-4o,1\n", "needs column(s) provider"),
        ("date,provider,model,cost_usd\n05/01/2026,openai,gpt-4o,1\n", "<invoice>:2: expected a date"),
        ("date,provider,model,cost_usd\n2026-05-01,openai,gpt-4o,one\n", "<invoice>:2: expected an amount"),
        ("date,provider,model,cost_usd\n2026-07-01,openai,gpt-4o,1\n", "no invoice rows dated between"),
    ],
)
def test_bad_invoices_are_report_errors(text: str, message: str) -> None:
    with pytest.raises(ReportError, match=re.escape(message)):
        invoices.parse(text, invoices.MAPPINGS["generic"], SPEC_OBJ, *MAY)


def test_a_currency_other_than_usd_is_refused() -> None:
    text = "start_time_iso,line_item,amount_value,amount_currency\n2026-05-02,\"gpt-4o, input\",1,eur\n"
    with pytest.raises(ReportError, match="expected USD"):
        invoices.parse(text, invoices.MAPPINGS["openai"], SPEC_OBJ, *MAY)


ALIASES = sorted((alias, m.name) for m in SPEC_OBJ.models for alias in (m.name, *m.aliases))


@given(st.lists(st.tuples(st.sampled_from(ALIASES), st.integers(1, 31), st.integers(0, 10**6)), min_size=1))
def test_generic_totals_are_the_sum_per_spec_model(lines: list[tuple[tuple[str, str], int, int]]) -> None:
    text = "date,provider,model,cost_usd\n" + "".join(
        f"2026-05-{day:02d},p,{alias},{cents / 100}\n" for (alias, _), day, cents in lines)
    expected: dict[tuple[str, str], float] = {}
    for (_, name), _, cents in lines:
        expected[("p", name)] = expected.get(("p", name), 0.0) + cents / 100
    got = invoices.parse(text, invoices.MAPPINGS["generic"], SPEC_OBJ, *MAY).totals()
    assert got.keys() == expected.keys()
    for key, usd in expected.items():
        assert got[key] == pytest.approx(usd)
