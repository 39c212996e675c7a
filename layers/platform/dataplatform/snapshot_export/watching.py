"""Watching exports to their end: each end reported once, and the sweep for what events missed."""

from __future__ import annotations

from datetime import datetime, timedelta

from dataplatform.snapshot_export.deps import ExportDeps
from dataplatform.snapshot_export.finished import judge_finished, quarantine
from dataplatform.snapshot_export.result import ExportOutcome, ExportResult
from dataplatform.snapshot_export.snapshots import export_id_for
from dataplatform.snapshot_export.starting import RunningExports, request_export, start_queued
from dataplatform.snapshot_export.tasks import ExportTask, automated_snapshots_of_day


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
