"""snapshot_export's pure parts: which export a snapshot gets, and the events the function is sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from dataplatform.snapshot_export.result import ExportOutcome, ExportResult
from dataplatform.snapshot_export.snapshots import Snapshot, export_id_for
from dataplatform.snapshot_export.triggers import (
    AUTOMATED_SNAPSHOT_CREATED,
    EXPORT_ENDED,
    ExportRequest,
    RdsSnapshotEvent,
    SnapshotExportEvent,
    SweepRequest,
)
from tests.conftest import ROOT, load_event

ARN = "arn:aws:rds:us-east-1:123456789012:snapshot:rds:tpch-2026-11-01-06-00"


def test_an_automated_snapshot_exports_as_its_database_and_day() -> None:
    snapshot = Snapshot.from_arn(ARN)
    assert (snapshot.source, snapshot.kind, snapshot.automated) == ("tpch", "instance", True)
    assert snapshot.taken_at == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    assert snapshot.export_id == "tpch-2026-11-01"


def test_a_cluster_snapshot_and_a_manual_one_get_their_own_ids() -> None:
    cluster = Snapshot.from_arn("arn:aws:rds:eu-west-1:1:cluster-snapshot:rds:orders-aurora-2026-11-02-23-59")
    assert (cluster.kind, cluster.export_id) == ("cluster", "orders-aurora-2026-11-02")
    manual = Snapshot.from_arn(
        "arn:aws:rds:us-east-1:1:snapshot:before-migration", datetime(2026, 11, 3, 12, tzinfo=UTC), "tpch"
    )
    assert (manual.automated, manual.export_id) == (False, "before-migration-2026-11-03")


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("Orders_DB", "orders-db-2026-11-01"),
        ("7-eleven", "db-7-eleven-2026-11-01"),
        ("a" * 80, "a" * 49 + "-2026-11-01"),
        ("ab-" + "-" * 60, "ab-2026-11-01"),
    ],
)
def test_export_ids_keep_to_what_rds_allows(stem: str, expected: str) -> None:
    export_id = export_id_for(stem, date(2026, 11, 1))
    assert export_id == expected
    assert len(export_id) <= 60 and export_id[0].isalpha() and "--" not in export_id


def test_a_manual_snapshot_needs_its_time_and_other_arns_are_refused() -> None:
    with pytest.raises(ValueError, match="must be given"):
        Snapshot.from_arn("arn:aws:rds:us-east-1:1:snapshot:before-migration")
    with pytest.raises(ValueError, match="not the ARN"):
        Snapshot.from_arn("arn:aws:rds:us-east-1:1:db:tpch")


@pytest.mark.parametrize(
    "path", sorted((ROOT / "events/snapshot_export").glob("*.json")), ids=lambda p: p.name
)
def test_every_sample_event_parses_as_one_of_the_functions_events(path: Path) -> None:
    event = SnapshotExportEvent.model_validate(load_event(f"snapshot_export/{path.name}")).root
    assert isinstance(event, RdsSnapshotEvent | SweepRequest | ExportRequest)
    if isinstance(event, RdsSnapshotEvent):
        assert event.detail.event_id in AUTOMATED_SNAPSHOT_CREATED | EXPORT_ENDED


def test_an_rds_event_is_typed_and_its_date_is_utc() -> None:
    event = SnapshotExportEvent.model_validate(load_event("snapshot_export/automated_snapshot.json")).root
    assert isinstance(event, RdsSnapshotEvent)
    assert event.detail.source_arn == ARN
    assert event.detail.date.tzinfo is not None and event.detail.date.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body", [{}, {"snapshot": "x", "day": "2026-11-01"}, {"day": "yesterday"}, {"sweep": 1}]
)
def test_a_request_by_hand_names_exactly_one_snapshot_or_day(body: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SnapshotExportEvent.model_validate(body)


def test_metrics_count_each_outcome_and_the_tables_left_out() -> None:
    result = ExportResult(
        "sweep",
        [
            ExportOutcome("a-2026-11-01", "failed"),
            ExportOutcome("b-2026-11-01", "incomplete", tables_not_exported=["t.public.x (FAILED: y)"] * 2),
            ExportOutcome("c-2026-11-01", "already-reported"),
        ],
        waiting=3,
    )
    metrics = result.metrics()
    assert metrics["ExportsFailed"] == 1 and metrics["ExportsIncomplete"] == 1
    assert metrics["TablesNotExported"] == 2 and metrics["ExportsWaiting"] == 3
    assert metrics["ExportsStarted"] == 0
