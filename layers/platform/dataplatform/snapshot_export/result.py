"""What one invocation did to which exports, and the counts CloudWatch alarms on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal[
    "started",  # StartExportTask accepted it
    "queued",  # RDS runs its limit of exports already (or the snapshot is not ready): started later
    "already-started",  # an export task of this id exists: a replay, or a second request
    "refused",  # RDS refused the start for good (no such snapshot, a role or key it cannot use)
    "ignored",  # not a snapshot of a configured database, or an RDS event this function does not act on
    "no-snapshot",  # asked for by hand, and there is no such snapshot
    "snapshot-missing",  # the sweep found no automated snapshot of yesterday for a configured database
    "complete",  # finished, every table exported
    "incomplete",  # finished, but tables-info shows tables skipped or failed (or cannot be read)
    "failed",
    "canceled",
    "already-reported",  # finished, and its end was reported before
    "running",  # still running, within the time allowed
    "stuck",  # running longer than the time allowed
    "not-found",  # an RDS event names a snapshot with no export task of this platform
]

# Outcome -> the metric that counts it; the template alarms on the ones that need a person.
METRICS: dict[Outcome, str] = {
    "started": "ExportsStarted",
    "queued": "ExportsQueued",
    "refused": "ExportStartsRefused",
    "complete": "ExportsCompleted",
    "incomplete": "ExportsIncomplete",
    "failed": "ExportsFailed",
    "canceled": "ExportsCanceled",
    "stuck": "ExportsStuck",
    "snapshot-missing": "SnapshotsMissing",
}
# Ends that get a quarantine record; with "stuck", what the alarms page a person for.
BAD: frozenset[Outcome] = frozenset({"refused", "incomplete", "failed", "canceled"})
ALARMING: frozenset[Outcome] = BAD | {"stuck", "snapshot-missing"}

Trigger = Literal["snapshot-created", "export-finished", "rds-event", "by-hand", "sweep"]


@dataclass(frozen=True)
class ExportOutcome:
    export_id: str
    outcome: Outcome
    snapshot: str = ""
    message: str = ""
    tables_not_exported: list[str] = field(default_factory=list)

    @property
    def alarming(self) -> bool:
        return self.outcome in ALARMING


@dataclass(frozen=True)
class ExportResult:
    trigger: Trigger
    exports: list[ExportOutcome] = field(default_factory=list)
    waiting: int | None = None  # snapshots still queued after a sweep

    def metrics(self) -> dict[str, int]:
        counts = {name: 0 for name in METRICS.values()}
        for export in self.exports:
            if export.outcome in METRICS:
                counts[METRICS[export.outcome]] += 1
        counts["TablesNotExported"] = sum(len(e.tables_not_exported) for e in self.exports)
        if self.waiting is not None:
            counts["ExportsWaiting"] = self.waiting
        return counts

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
