"""The export's metadata files: what makes an export complete, and what rejects it."""

import json
from datetime import UTC, datetime

import pytest

from dataplatform.snapshot_catalog.files import raw_table_identifier
from dataplatform.snapshot_catalog.manifest import (
    ExportRejected,
    TableStatus,
    check_complete,
    parse_export_info,
    parse_tables_info,
)

INFO = {
    "exportTaskIdentifier": "snap-1",
    "sourceArn": "arn:aws:rds:us-east-1:1:snapshot:s",
    "snapshotTime": "Nov 1, 2026 6:00:00 AM",
    "exportedFilesPath": "exports/snap-1",
    "status": "COMPLETE",
    "percentProgress": 100,
}


def table(target: str, status: str = "COMPLETE") -> dict[str, object]:
    return {"target": target, "status": status, "schemaMetadata": {"originalTypeMappings": []}}


def tables_info(*targets: str) -> bytes:
    return json.dumps({"perTableStatus": [table(t) for t in targets]}).encode()


def test_export_info_reads_rds_time_formats() -> None:
    info = parse_export_info("k", json.dumps(INFO).encode())
    assert info.snapshot_time == datetime(2026, 11, 1, 6, tzinfo=UTC)
    iso = parse_export_info("k", json.dumps({**INFO, "snapshotTime": "2026-11-01T06:00:00"}).encode())
    assert iso.snapshot_time == info.snapshot_time


@pytest.mark.parametrize(
    ("status", "progress"), [("FAILED", 100), ("CANCELED", 10), ("IN_PROGRESS", 40), ("COMPLETE", 99)]
)
def test_only_a_complete_export_at_100_percent_passes(status: str, progress: int) -> None:
    info = parse_export_info(
        "k", json.dumps({**INFO, "status": status, "percentProgress": progress}).encode()
    )
    with pytest.raises(ExportRejected) as rejected:
        check_complete(info)
    assert rejected.value.reason == f"status-{status.lower()}"


def test_a_broken_export_info_is_rejected() -> None:
    with pytest.raises(ExportRejected, match="not a valid export_info"):
        parse_export_info("k", b'{"exportTaskIdentifier": ')


def test_tables_info_files_cover_every_table_in_order() -> None:
    files = {
        "e/export_tables_info_snap-1_from_3_to_3.json": tables_info("db.public.c"),
        "e/export_tables_info_snap-1_from_1_to_2.json": tables_info("db.public.a", "db.public.b"),
    }
    assert [t.target for t in parse_tables_info(files, "snap-1")] == [
        "db.public.a",
        "db.public.b",
        "db.public.c",
    ]


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({}, "tables-info-missing"),
        (
            {"export_tables_info_snap-1_from_2_to_3.json": tables_info("a.b.c", "a.b.d")},
            "tables-info-missing",
        ),
        ({"export_tables_info_snap-1_from_1_to_2.json": tables_info("a.b.c")}, "tables-info-invalid"),
        ({"export_tables_info_snap-1_from_1_to_1.json": tables_info("a.b.c")[:20]}, "tables-info-invalid"),
        ({"export_tables_info_snap-1_from_1_to_0.json": tables_info()}, "empty-export"),
    ],
)
def test_missing_truncated_or_empty_tables_info_is_rejected(files: dict[str, bytes], reason: str) -> None:
    with pytest.raises(ExportRejected) as rejected:
        parse_tables_info(files, "snap-1")
    assert rejected.value.reason == reason


def test_a_table_that_did_not_complete_rejects_the_export() -> None:
    body = json.dumps(
        {"perTableStatus": [table("a.b.c"), {**table("a.b.d", "FAILED"), "warningMessage": "disk"}]}
    )
    with pytest.raises(ExportRejected, match=r"a\.b\.d \(FAILED: disk\)"):
        parse_tables_info({"export_tables_info_snap-1_from_1_to_2.json": body.encode()}, "snap-1")


def test_raw_table_names_follow_the_convention() -> None:
    status = TableStatus.model_validate(table("Sales-DB.Public.Order Items"))
    assert raw_table_identifier(status) == "raw.sales_db__public__order_items"
