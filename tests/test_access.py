"""The access matrix: cells from the example spec's approvals and hand-picked usage, the CSV
round trip, the diff, and the command against a real Prometheus holding known counters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contract import spec as spec_model
from reports import access, cli
from reports.access import APPROVED_UNUSED, UNAPPROVED, USED, Change, build, diff, read_csv, to_csv, to_markdown
from tests.paths import EXAMPLE_SPEC
from tests.support.openmetrics import Series, grid, serve
from tests.support.prometheus import Prometheus

SPEC = spec_model.load(EXAMPLE_SPEC)
USAGE = {
    ("search", "gpt-4o"): 10.0,
    ("research", "gpt-4o"): 3.0,                 # research is approved for gpt-4o-mini, not gpt-4o
    ("analytics", "gemini-2.5-pro"): 5.4,        # approved through the pattern "gemini-*"
    ("__unassigned__", "text-embedding-3-small"): 2.0,  # nobody approved a team without a name
    ("platform", "gpt-unlisted"): 1.0,           # platform approves "*": even a model outside the table
}
MATRIX = build(SPEC, USAGE, "2026-10")

# (team, model, status, requests), by hand from ops.yaml's approved_models
CELLS = [
    ("search", "gpt-4o", USED, 10),
    ("search", "o3", APPROVED_UNUSED, 0),
    ("search", "gemini-2.5-pro", None, 0),
    ("research", "gpt-4o", UNAPPROVED, 3),
    ("research", "gpt-4o-mini", APPROVED_UNUSED, 0),
    ("analytics", "gemini-2.5-pro", USED, 5),
    ("analytics", "gemini-2.5-flash", APPROVED_UNUSED, 0),
    ("analytics", "gpt-4o", None, 0),
    ("__unassigned__", "text-embedding-3-small", UNAPPROVED, 2),
    ("__unassigned__", "gpt-4o", None, 0),
    ("platform", "gpt-unlisted", USED, 1),
    ("platform", "claude-haiku-3-5", APPROVED_UNUSED, 0),
    ("legal", "gpt-unlisted", None, 0),
]


@pytest.mark.parametrize(("team", "model", "status", "requests"), CELLS, ids=[f"{c[0]}-{c[1]}" for c in CELLS])
def test_cell(team: str, model: str, status: str | None, requests: int) -> None:
    cell = MATRIX.cell(team, model)
    if status is None:
        assert cell is None
        return
    assert cell is not None
    assert (cell.status, cell.requests) == (status, requests)


def test_rows_and_columns_have_a_fixed_order() -> None:
    assert MATRIX.teams == ("analytics", "legal", "marketing", "platform", "research", "search", "support",
                            "__unassigned__")
    assert MATRIX.models[-1] == "gpt-unlisted"  # spec models sorted, then what only traffic named
    assert MATRIX.models[:2] == ("claude-haiku-3-5", "claude-sonnet-4")
    reordered = build(SPEC, dict(reversed(list(USAGE.items()))), "2026-10")
    assert to_csv(reordered) == to_csv(MATRIX)
    assert to_markdown(reordered) == to_markdown(MATRIX)


def test_markdown_lists_unapproved_use_and_classification_tiers() -> None:
    text = to_markdown(MATRIX)
    assert "| research | gpt-4o | 3 |" in text
    assert "| __unassigned__ | text-embedding-3-small | 2 |" in text
    assert "| legal | public, internal, confidential, restricted |" in text
    assert "| analytics | public, internal |" in text
    assert "**UNAPPROVED (3)**" in text


def test_csv_round_trips() -> None:
    rows = read_csv(to_csv(MATRIX))
    assert rows[("research", "gpt-4o")] == access.Row(False, 3, UNAPPROVED, "public;internal")
    assert rows[("search", "o3")].status == APPROVED_UNUSED
    assert len(rows) == len(MATRIX.cells)


OLD = """team,model,approved,requests,status,classifications
search,gpt-4o,yes,10,used,public;internal
search,o3,yes,0,approved_unused,public;internal
research,gpt-4o-mini,yes,4,used,public
legal,gpt-4o,yes,0,approved_unused,public
"""
NEW = """team,model,approved,requests,status,classifications
search,gpt-4o,yes,12,used,public;internal
search,o3,yes,7,used,public;internal
research,gpt-4o,no,2,used_without_approval,public
research,gpt-4o-mini,yes,0,approved_unused,public
legal,claude-sonnet-4,yes,0,approved_unused,public;internal
"""


def test_diff_names_every_kind_of_change_in_order() -> None:
    assert diff(read_csv(OLD), read_csv(NEW)) == [
        Change("new unapproved usage", "research", "gpt-4o", "2 requests"),
        Change("new usage", "search", "o3", "7 requests"),
        Change("usage stopped", "research", "gpt-4o-mini", "4 requests before"),
        Change("approval added", "legal", "claude-sonnet-4", ""),
        Change("approval removed", "legal", "gpt-4o", ""),
        Change("classification tiers changed", "legal", "", "public -> public;internal"),
    ]


def test_identical_matrices_have_no_changes() -> None:
    assert diff(read_csv(OLD), read_csv(OLD)) == []
    assert access.render_changes([]) == "No changes.\n"


def test_diff_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "old.csv").write_text(OLD)
    (tmp_path / "new.csv").write_text(NEW)
    assert cli.main(["access", "diff", str(tmp_path / "old.csv"), str(tmp_path / "new.csv")]) == 0
    out = capsys.readouterr().out
    assert "- new unapproved usage: research x gpt-4o (2 requests)\n" in out
    assert "- approval removed: legal x gpt-4o\n" in out


def test_a_file_that_is_not_a_matrix_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "old.csv").write_text("team,cost\nsearch,3\n")
    (tmp_path / "new.csv").write_text(NEW)
    assert cli.main(["access", "diff", str(tmp_path / "old.csv"), str(tmp_path / "new.csv")]) == 2
    assert "is not an access matrix CSV" in capsys.readouterr().err


# -- against a real Prometheus ----------------------------------------------------------------

OCT = 1_790_812_800.0  # 2026-10-01T00:00:00Z
DAY = 86_400.0
TIMES = grid(OCT - DAY, OCT + 32 * DAY, 21_600.0)


def _requests(team: str, model: str, per_day: float, since: float, outcome: str = "success") -> Series:
    labels = dict(team=team, app="a", model=model, provider="p", operation="chat", outcome=outcome, cache="miss")
    return Series("genai_requests_total", labels, tuple((t, per_day * (t - since) / DAY) for t in TIMES if t >= since))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    series = (
        _requests("search", "gpt-4o", 10, OCT - DAY),
        _requests("search", "gpt-4o", 1, OCT - DAY, outcome="provider_error"),  # outcomes add up per cell
        _requests("research", "o3", 2, OCT + 20 * DAY),  # first seen mid-month: counts from 0
    )
    with serve(series, tmp_path_factory.mktemp("access")) as prom:
        yield prom


@pytest.mark.binaries
def test_access_command_writes_markdown_and_csv_and_the_changes(prometheus: Prometheus, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "old.csv").write_text("team,model,approved,requests,status,classifications\n"
                                      "search,gpt-4o,yes,5,used,public;internal;confidential\n")
    code = cli.main(["access", "--prometheus", prometheus.url, "--spec", str(EXAMPLE_SPEC), "--month", "2026-10",
                     "--out", str(tmp_path / "matrix"), "--previous", str(tmp_path / "old.csv")])
    assert code == 0
    rows = read_csv((tmp_path / "matrix.csv").read_text())
    assert rows[("search", "gpt-4o")] == access.Row(True, 341, USED, "public;internal;confidential")  # 31 x 11
    assert rows[("research", "o3")] == access.Row(False, 22, UNAPPROVED, "public;internal")  # 11 days x 2
    assert "**UNAPPROVED (22)**" in (tmp_path / "matrix.md").read_text()
    out = capsys.readouterr().out
    assert "- new unapproved usage: research x o3 (22 requests)" in out
    assert "- approval added: search x o3" in out
