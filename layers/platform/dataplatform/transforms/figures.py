"""A transform run's figures: per table it wrote, what the run's commits recorded (rows changed, bytes
written, commits), and their totals. Pure: `Lake.run_commits` gives the commits' snapshot summaries, the
publish step sums them before it fast-forwards main, and jobs/transforms.py writes the document the
state machine puts into TransformSucceeded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from dataplatform.iceberg.summary import ROWS_CHANGED

# Iceberg's own snapshot-summary key: bytes of the data files a commit added.
ADDED_FILES_SIZE = "added-files-size"


@dataclass(frozen=True)
class TableFigures:
    rows_changed: int = 0
    bytes_written: int = 0
    commits: int = 0

    def __add__(self, other: TableFigures) -> TableFigures:
        return TableFigures(
            self.rows_changed + other.rows_changed,
            self.bytes_written + other.bytes_written,
            self.commits + other.commits,
        )


def table_figures(summaries: Iterable[Mapping[str, str]]) -> TableFigures:
    """The sum over one table's commits of a run; a key a commit did not record counts as 0."""
    total = TableFigures()
    for summary in summaries:
        total += TableFigures(
            int(summary.get(ROWS_CHANGED, 0)), int(summary.get(ADDED_FILES_SIZE, 0)), commits=1
        )
    return total


def run_figures(run_id: str, commits_by_table: Mapping[str, Sequence[Mapping[str, str]]]) -> dict[str, Any]:
    """The run's figures document: `tables` (only those the run committed to) and `totals`."""
    tables = {table: table_figures(commits) for table, commits in commits_by_table.items() if commits}
    totals = sum(tables.values(), TableFigures())
    return {
        "run_id": run_id,
        "tables": {table: asdict(figures) for table, figures in tables.items()},
        "totals": {"tables": len(tables), **asdict(totals)},
    }
