"""The entry point of the snapshot_export function: start exports, queue them past RDS's limit, and
watch every one to its end.

- An automated snapshot of a configured database was created: start its export (or queue it).
- An export task ended (RDS's event): report its end once, then start what waits in the queue.
- The sweep, on its schedule, catches what events missed (RDS sends them on a best-effort basis):
  ends not yet reported, tasks running longer than allowed, and queued snapshots a slot has freed for.
- By hand: one snapshot, or the automated snapshots of one day.

A replay of any of these changes nothing: starts are keyed by the export id, ends are reported once.
Starting lives in `starting.py`, watching in `watching.py`.
"""

from __future__ import annotations

from datetime import date

from dataplatform.snapshot_export.deps import ExportDeps
from dataplatform.snapshot_export.result import ExportOutcome, ExportResult
from dataplatform.snapshot_export.snapshots import Snapshot, export_id_for
from dataplatform.snapshot_export.starting import RunningExports, request_export
from dataplatform.snapshot_export.tasks import automated_snapshots_of_day, describe_snapshot
from dataplatform.snapshot_export.triggers import (
    AUTOMATED_SNAPSHOT_CREATED,
    EXPORT_ENDED,
    ExportRequest,
    RdsEventDetail,
    RdsSnapshotEvent,
    SweepRequest,
)
from dataplatform.snapshot_export.watching import export_ended, sweep


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
