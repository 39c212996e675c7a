"""Register a finished RDS snapshot export as raw Iceberg tables: validate everything, then commit.

The entry point of the `snapshot_catalog` function. A rejected export leaves the catalog untouched and
gets a quarantine record (`_quarantine/snapshot_catalog/<export id>.json` in the export's bucket). A
registered export is announced once on the platform bus; a marker (`_catalog/snapshot_catalog/<export
id>.json`) remembers that, so a replay neither commits nor emits again.
"""

from __future__ import annotations

import json
import posixpath
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pyiceberg.catalog import Catalog

from dataplatform.aws import client
from dataplatform.events import CatalogedTable, EventPublisher, SnapshotCataloged
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Settings
from dataplatform.snapshot_catalog.files import (
    FOOTER_READERS,
    TableExport,
    read_table_files,
    read_tables_info,
)
from dataplatform.snapshot_catalog.manifest import (
    EXPORT_INFO,
    ExportInfo,
    ExportRejected,
    check_complete,
    parse_export_info,
    parse_tables_info,
)
from dataplatform.snapshot_catalog.register import PARALLEL_TABLES, StagedTable, commit_staged, stage_tables

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

QUARANTINE_PREFIX = "_quarantine/snapshot_catalog"
MARKER_PREFIX = "_catalog/snapshot_catalog"


ExportStatus = Literal["registered", "already-registered", "rejected"]


@dataclass(frozen=True)
class ExportResult:
    export_id: str
    status: ExportStatus
    reason: str = ""
    message: str = ""
    tables: list[dict[str, Any]] = field(default_factory=list)
    emitted: bool = False

    @property
    def files(self) -> int:
        return sum(int(t["file_count"]) for t in self.tables if t["outcome"] == "registered")

    def metrics(self) -> dict[str, int]:
        """Counts for CloudWatch; the template alarms on ExportsRejected."""
        registered = [t for t in self.tables if t["outcome"] == "registered"]
        return {
            "ExportsRegistered": int(self.status == "registered"),
            "ExportsReplayed": int(self.status == "already-registered"),
            "ExportsRejected": int(self.status == "rejected"),
            "TablesRegistered": len(registered),
            "FilesRegistered": self.files,
        }

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "files": self.files}


@dataclass(frozen=True)
class CatalogDeps:
    s3: S3Client
    catalog: Catalog
    publisher: EventPublisher

    @classmethod
    def from_settings(cls, settings: Settings) -> CatalogDeps:
        return cls(
            s3=client("s3", settings),
            catalog=glue_catalog(settings),
            publisher=EventPublisher(client("events", settings), settings.require("event_bus")),
        )


def marker_key(export_id: str) -> str:
    """Where a cataloged (and announced) export is remembered."""
    return f"{MARKER_PREFIX}/{export_id}.json"


def _get(s3: S3Client, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def _exists(s3: S3Client, bucket: str, key: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("KeyCount", 0))


def _load_export(deps: CatalogDeps, bucket: str, key: str) -> tuple[ExportInfo, list[TableExport]]:
    """Everything about the export that can be checked without touching the catalog."""
    info = parse_export_info(key, _get(deps.s3, bucket, key))
    check_complete(info)
    root = posixpath.dirname(key)
    statuses = parse_tables_info(read_tables_info(deps.s3, bucket, root), info.export_id)
    with ThreadPoolExecutor(FOOTER_READERS) as footers, ThreadPoolExecutor(PARALLEL_TABLES) as per_table:
        tables = list(per_table.map(lambda s: read_table_files(s, deps.s3, bucket, root, footers), statuses))
    if not any(t.files for t in tables):
        raise ExportRejected("empty-export", f"export {info.export_id} has no data files")
    return info, tables


def catalog_export(bucket: str, key: str, deps: CatalogDeps) -> ExportResult:
    match = EXPORT_INFO.search(key)
    if not match:
        raise ValueError(f"{key} is not an export_info_<id>.json object")
    export_id = match.group("export_id")
    marker = marker_key(export_id)
    try:
        info, tables = _load_export(deps, bucket, key)
        staged = stage_tables(deps.catalog, [t for t in tables if t.files], info)
    except ExportRejected as rejected:
        result = ExportResult(export_id, "rejected", rejected.reason, str(rejected))
        _write_json(
            deps.s3, bucket, f"{QUARANTINE_PREFIX}/{export_id}.json", {**result.to_json(), "key": key}
        )
        return result

    commit_staged(staged)
    outcomes = [_outcome(t) for t in staged]
    newly = any(t.outcome == "registered" for t in staged)
    status: ExportStatus = "registered" if newly else "already-registered"
    if _exists(deps.s3, bucket, marker) and not newly:
        return ExportResult(export_id, status, tables=outcomes)
    deps.publisher.publish(
        SnapshotCataloged(
            export_id=info.export_id,
            snapshot_time=info.snapshot_time,
            source_arn=info.source_arn,
            tables=[
                CatalogedTable(
                    table=t.identifier,
                    snapshot_id=t.snapshot_id,
                    record_count=t.record_count,
                    file_count=t.file_count,
                )
                for t in staged
            ],
        )
    )
    result = ExportResult(export_id, status, tables=outcomes, emitted=True)
    _write_json(deps.s3, bucket, marker, {**result.to_json(), "cataloged_at": datetime.now(UTC).isoformat()})
    return result


def _outcome(table: StagedTable) -> dict[str, Any]:
    return {
        "table": table.identifier,
        "outcome": table.outcome,
        "snapshot_id": table.snapshot_id,
        "record_count": table.record_count,
        "file_count": table.file_count,
    }


def _write_json(s3: S3Client, bucket: str, key: str, body: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body, default=str, indent=2).encode())
