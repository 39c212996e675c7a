"""Starting exports within RDS's limit of concurrent exports; past it, snapshots wait in the ledger's
queue and start, oldest first, when a slot frees."""

from __future__ import annotations

from collections.abc import Iterable

from dataplatform.snapshot_export.deps import ExportDeps
from dataplatform.snapshot_export.finished import quarantine
from dataplatform.snapshot_export.result import ExportOutcome
from dataplatform.snapshot_export.snapshots import Snapshot
from dataplatform.snapshot_export.tasks import ExportParameters, ExportTask, list_export_tasks, start_export


class RunningExports:
    """The export tasks RDS knows, kept current as this invocation starts more, so that starts stay
    within RDS's limit of concurrent exports."""

    def __init__(self, tasks: Iterable[ExportTask], limit: int) -> None:
        self.tasks = {task.export_id: task for task in tasks}
        self.limit = limit

    @classmethod
    def of(cls, deps: ExportDeps) -> RunningExports:
        return cls(list_export_tasks(deps.rds), deps.concurrency)

    @property
    def active(self) -> int:
        return sum(task.active for task in self.tasks.values())

    def started(self, snapshot: Snapshot, parameters: ExportParameters) -> None:
        self.tasks[snapshot.export_id] = ExportTask(
            snapshot.export_id, snapshot.arn, "STARTING", parameters.bucket, parameters.prefix, None
        )

    def in_bucket(self, bucket: str) -> list[ExportTask]:
        return sorted((t for t in self.tasks.values() if t.bucket == bucket), key=lambda t: t.export_id)


def request_export(snapshot: Snapshot, deps: ExportDeps, running: RunningExports) -> ExportOutcome:
    """Start the export of `snapshot` unless its task exists; queue it while RDS runs its limit."""
    existing = running.tasks.get(snapshot.export_id)
    if existing is not None:
        deps.ledger.dequeue(snapshot)
        return ExportOutcome(snapshot.export_id, "already-started", snapshot.arn, f"task {existing.status}")
    if running.active >= running.limit:
        deps.ledger.enqueue(snapshot)
        reason = f"RDS runs {running.active} exports, its limit; started when one ends"
        return ExportOutcome(snapshot.export_id, "queued", snapshot.arn, reason)
    attempt = start_export(deps.rds, snapshot, deps.parameters)
    if attempt.outcome == "wait":
        deps.ledger.enqueue(snapshot)
        return ExportOutcome(snapshot.export_id, "queued", snapshot.arn, attempt.message)
    deps.ledger.dequeue(snapshot)
    if attempt.outcome == "refused":
        refused = ExportOutcome(snapshot.export_id, "refused", snapshot.arn, attempt.message)
        quarantine(deps.s3, deps.parameters.bucket, refused)
        return refused
    running.started(snapshot, deps.parameters)
    return ExportOutcome(snapshot.export_id, attempt.outcome, snapshot.arn)


def start_queued(deps: ExportDeps, running: RunningExports) -> list[ExportOutcome]:
    """Start waiting snapshots, oldest first, while RDS has room."""
    outcomes = []
    for snapshot in deps.ledger.queued():
        if running.active >= running.limit:
            break
        outcomes.append(request_export(snapshot, deps, running))
    return outcomes
