"""What a transform step did, per table: rows read, rows changed, bytes written."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TableReport:
    table: str
    rows_read: int = 0
    rows_changed: int = 0
    bytes_written: int = 0
    snapshot_id: int | None = None
    skipped: str | None = None  # why nothing was read (e.g. "source unchanged")


@dataclass
class StepReport:
    step: str
    run_id: str
    tables: list[TableReport] = field(default_factory=list)
    figures: dict[str, Any] | None = None  # publish: the run's figures (dataplatform/transforms/figures.py)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
