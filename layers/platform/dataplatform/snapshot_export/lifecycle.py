"""The entry point of the snapshot_export function: start exports, queue them past RDS's limit, and
watch every one to its end.

- An automated snapshot of a configured database was created: start its export (or queue it).
- An export task ended (RDS's event): report its end once, then start what waits in the queue.
- The sweep, on its schedule, catches what events missed (RDS sends them on a best-effort basis):
  ends not yet reported, tasks running longer than allowed, and queued snapshots a slot has freed for.
- By hand: one snapshot, or the automated snapshots of one day.

A replay of any of these changes nothing: starts are keyed by the export id, ends are reported once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.snapshot_export.finished import judge_finished, quarantine
from dataplatform.snapshot_export.ledger import ExportLedger
from dataplatform.snapshot_export.result import ExportOutcome, ExportResult
from dataplatform.snapshot_export.snapshots import EXPORT_PREFIX, Snapshot, export_id_for
from dataplatform.snapshot_export.tasks import (
    RDS_CONCURRENT_EXPORTS,
    ExportParameters,
    ExportTask,
    automated_snapshots_of_day,
    describe_snapshot,
    list_export_tasks,
    start_export,
)
from dataplatform.snapshot_export.triggers import (
    AUTOMATED_SNAPSHOT_CREATED,
    EXPORT_ENDED,
    ExportRequest,
    RdsEventDetail,
    RdsSnapshotEvent,
    SweepRequest,
)

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ExportDeps:
    rds: RDSClient
    s3: S3Client
    ledger: ExportLedger
    parameters: ExportParameters
    sources: tuple[str, ...]  # the DB instances and clusters whose automated snapshots are exported
    stuck_after: timedelta
    concurrency: int = RDS_CONCURRENT_EXPORTS

    @classmethod
    def from_settings(cls, settings: Settings) -> ExportDeps:
        return cls(
            rds=client("rds", settings),
            s3=client("s3", settings),
            ledger=ExportLedger(client("dynamodb", settings), settings.require("ingest_state_table")),
            parameters=ExportParameters(
                bucket=settings.require("raw_bucket"),
                prefix=EXPORT_PREFIX,
                role_arn=settings.require("export_role_arn"),
                kms_key=settings.require("export_kms_key"),
                export_only=settings.export_only,
            ),
            sources=settings.export_sources,
            stuck_after=timedelta(hours=settings.export_stuck_hours),
        )


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


def handle(event: RdsSnapshotEvent | SweepRequest | ExportRequest, deps: ExportDeps) -> ExportResult:
    if isinstance(event, SweepRequest):
        return sweep(event.sweep_at, deps)
    if isinstance(event, ExportRequest):
        return by_hand(event, deps)
    detail = event.detail
    if detail.event_id in AUTOMATED_SNAPSHOT_CREATED:
        return ExportResult("snapshot-created", [snapshot_created(detail, deps)])
    if detail.event_id in EXPORT_ENDED:
        return export_ended(detail.source_arn, deps)
    reason = f"{detail.event_id} ({detail.message}) is not an event this function acts on"
    return ExportResult("rds-event", [ExportOutcome("", "ignored", detail.source_arn, reason)])


def snapshot_created(detail: RdsEventDetail, deps: ExportDeps) -> ExportOutcome:
    snapshot = Snapshot.from_arn(detail.source_arn, detail.date)
    if snapshot.source not in deps.sources:
        configured = ", ".join(deps.sources) or "none"
        reason = f"{snapshot.source} is not one of the exported databases ({configured})"
        return ExportOutcome(snapshot.export_id, "ignored", snapshot.arn, reason)
    return request_export(snapshot, deps, RunningExports.of(deps))


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


def report_end(task: ExportTask, deps: ExportDeps, reported: set[str]) -> ExportOutcome:
    """The end of `task`, reported (metric, quarantine record) the first time it is seen."""
    if not task.finished:
        return ExportOutcome(task.export_id, "running", task.source_arn, f"task {task.status}")
    if task.export_id in reported:
        return ExportOutcome(task.export_id, "already-reported", task.source_arn, f"task {task.status}")
    outcome = judge_finished(task, deps.s3)
    quarantine(deps.s3, task.bucket, outcome)
    if not deps.ledger.report_once(task.export_id, outcome.outcome):
        return ExportOutcome(task.export_id, "already-reported", task.source_arn, f"task {task.status}")
    return outcome


def export_ended(source_arn: str, deps: ExportDeps) -> ExportResult:
    running = RunningExports.of(deps)
    ours = [t for t in running.in_bucket(deps.parameters.bucket) if t.source_arn == source_arn]
    if not ours:
        reason = f"no export task of this snapshot writes to s3://{deps.parameters.bucket}"
        return ExportResult("export-finished", [ExportOutcome("", "not-found", source_arn, reason)])
    reported = deps.ledger.reported()
    outcomes = [report_end(task, deps, reported) for task in ours]
    return ExportResult("export-finished", outcomes + start_queued(deps, running))


def sweep(now: datetime, deps: ExportDeps) -> ExportResult:
    """Ends no event reported, tasks running longer than allowed, snapshots whose event was missed, and
    queued snapshots with room now."""
    running = RunningExports.of(deps)
    reported = deps.ledger.reported()
    outcomes = []
    for task in running.in_bucket(deps.parameters.bucket):
        if task.finished and task.export_id not in reported:
            outcomes.append(report_end(task, deps, reported))
        elif task.running_longer_than(deps.stuck_after, now):
            assert task.started_at is not None
            hours = (now - task.started_at).total_seconds() / 3600
            reason = (
                f"{task.status} for {hours:.1f} h, longer than {deps.stuck_after.total_seconds() / 3600:g} h"
            )
            outcomes.append(ExportOutcome(task.export_id, "stuck", task.source_arn, reason))
    outcomes += start_queued(deps, running)
    outcomes += _catch_up(now, deps, running)
    return ExportResult("sweep", outcomes, waiting=len(deps.ledger.queued()))


def _catch_up(now: datetime, deps: ExportDeps, running: RunningExports) -> list[ExportOutcome]:
    """Start the exports of yesterday's and today's automated snapshots whose event never came, and
    say when a database has no automated snapshot of yesterday at all."""
    yesterday = (now - timedelta(days=1)).date()
    waiting = {snapshot.export_id for snapshot in deps.ledger.queued()}
    outcomes = []
    for source in deps.sources:
        for day in (yesterday, now.date()):
            snapshots = automated_snapshots_of_day(deps.rds, source, day)
            if not snapshots and day == yesterday:
                reason = f"{source} has no automated snapshot of {day.isoformat()}: are its backups on?"
                outcomes.append(ExportOutcome(export_id_for(source, day), "snapshot-missing", source, reason))
            outcomes += [
                request_export(snapshot, deps, running)
                for snapshot in snapshots
                if snapshot.export_id not in running.tasks and snapshot.export_id not in waiting
            ]
    return outcomes


def by_hand(request: ExportRequest, deps: ExportDeps) -> ExportResult:
    running = RunningExports.of(deps)
    if request.snapshot is not None:
        identifier = (
            request.snapshot.split(":", 6)[-1] if request.snapshot.startswith("arn:") else request.snapshot
        )
        snapshot = describe_snapshot(deps.rds, identifier)
        if snapshot is None:
            reason = f"no DB snapshot or DB cluster snapshot {identifier!r}"
            return ExportResult("by-hand", [ExportOutcome("", "no-snapshot", request.snapshot, reason)])
        return ExportResult("by-hand", [request_export(snapshot, deps, running)])
    assert request.day is not None
    return ExportResult("by-hand", [o for s in deps.sources for o in _day(s, request.day, deps, running)])


def _day(source: str, day: date, deps: ExportDeps, running: RunningExports) -> list[ExportOutcome]:
    snapshots = automated_snapshots_of_day(deps.rds, source, day)
    if not snapshots:
        reason = f"{source} has no automated snapshot of {day.isoformat()}"
        return [ExportOutcome(export_id_for(source, day), "no-snapshot", source, reason)]
    return [request_export(snapshot, deps, running) for snapshot in snapshots]
