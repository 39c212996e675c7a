"""A transform run's figures (dataplatform/transforms/figures.py), summed from its commits' summaries.

GIVEN the snapshot summaries of a run's commits per table,
WHEN the figures are computed,
THEN each table gets its rows changed, bytes written and commits, the totals add them up, tables without
a commit of the run are left out, and a key a commit did not record counts as 0.
"""

from __future__ import annotations

from dataplatform.iceberg.summary import DELETED_ROWS, ROWS_CHANGED, TRANSFORM_RUN
from dataplatform.transforms.figures import ADDED_FILES_SIZE, TableFigures, run_figures, table_figures


def commit(rows: int, size: int) -> dict[str, str]:
    return {TRANSFORM_RUN: "r1", ROWS_CHANGED: str(rows), ADDED_FILES_SIZE: str(size), DELETED_ROWS: "0"}


def test_a_table_sums_its_commits() -> None:
    assert table_figures([commit(3, 100), commit(5, 250)]) == TableFigures(8, 350, 2)


def test_an_empty_commit_counts_as_a_commit_and_missing_keys_as_zero() -> None:
    empty = {TRANSFORM_RUN: "r1", ROWS_CHANGED: "0"}  # nothing merged: Iceberg adds no files
    older = {TRANSFORM_RUN: "r1", ADDED_FILES_SIZE: "40"}  # written before dp.rows-changed existed
    assert table_figures([empty, older]) == TableFigures(0, 40, 2)
    assert table_figures([]) == TableFigures()


def test_the_run_has_tables_it_committed_to_and_their_totals() -> None:
    figures = run_figures(
        "r1",
        {
            "staging.orders": [commit(10, 1000)],
            "analytics.fact_sales": [commit(4, 300), commit(1, 50)],
            "analytics.agg_daily_sales": [],
        },
    )
    assert figures == {
        "run_id": "r1",
        "tables": {
            "staging.orders": {"rows_changed": 10, "bytes_written": 1000, "commits": 1},
            "analytics.fact_sales": {"rows_changed": 5, "bytes_written": 350, "commits": 2},
        },
        "totals": {"tables": 2, "rows_changed": 15, "bytes_written": 1350, "commits": 3},
    }


def test_a_run_that_committed_nothing_has_zero_totals() -> None:
    assert run_figures("r2", {"staging.orders": []})["totals"] == {
        "tables": 0,
        "rows_changed": 0,
        "bytes_written": 0,
        "commits": 0,
    }
