"""The export's own metadata files: `export_info_<id>.json` and `export_tables_info_<id>_from_<n>_to_<m>.json`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

EXPORT_INFO = re.compile(r"(?:^|/)export_info_(?P<export_id>[^/]+)\.json$")
TABLES_INFO = re.compile(r"export_tables_info_(?P<export_id>.+)_from_(?P<first>\d+)_to_(?P<last>\d+)\.json$")


class ExportRejected(ValueError):
    """The export must not be registered; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _parse_time(value: Any) -> Any:
    """RDS writes ISO 8601, or `Nov 1, 2026 6:00:00 AM` in older exports; both are UTC."""
    if isinstance(value, str) and value and not value[0].isdigit():
        return datetime.strptime(value, "%b %d, %Y %I:%M:%S %p").replace(tzinfo=UTC)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ExportInfo(_Model):
    export_id: str = Field(alias="exportTaskIdentifier")
    status: str
    percent_progress: int = Field(alias="percentProgress")
    snapshot_time: datetime = Field(alias="snapshotTime")
    source_arn: str = Field(alias="sourceArn")
    exported_files_path: str = Field(alias="exportedFilesPath")

    _times = field_validator("snapshot_time", mode="before")(_parse_time)

    @field_validator("snapshot_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class TypeMapping(_Model):
    column_name: str = Field(alias="columnName")
    original_type: str = Field(alias="originalType")
    expected_exported_type: str = Field(default="", alias="expectedExportedType")


class SchemaMetadata(_Model):
    original_type_mappings: list[TypeMapping] = Field(default_factory=list, alias="originalTypeMappings")


class TableStatus(_Model):
    target: str
    status: str
    size_gb: float = Field(default=0.0, alias="sizeGB")
    schema_metadata: SchemaMetadata = Field(default_factory=SchemaMetadata, alias="schemaMetadata")
    warning_message: str | None = Field(default=None, alias="warningMessage")

    @property
    def database(self) -> str:
        return self.target.split(".", 2)[0]

    @property
    def schema_name(self) -> str:
        return self.target.split(".", 2)[1]

    @property
    def table(self) -> str:
        return self.target.split(".", 2)[2]


class TablesInfo(_Model):
    per_table_status: list[TableStatus] = Field(alias="perTableStatus")


def parse_export_info(key: str, body: bytes) -> ExportInfo:
    try:
        return ExportInfo.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise ExportRejected("bad-export-info", f"{key} is not a valid export_info file: {exc}") from exc


def check_complete(info: ExportInfo) -> None:
    if info.status != "COMPLETE" or info.percent_progress != 100:
        raise ExportRejected(
            f"status-{info.status.lower()}",
            f"export {info.export_id} is {info.status} at {info.percent_progress}%, not COMPLETE at 100%",
        )


def parse_tables_info(files: dict[str, bytes], export_id: str) -> list[TableStatus]:
    """All tables of the export, every one of them COMPLETE."""
    tables = table_statuses(files, export_id)
    incomplete = not_exported(tables)
    if incomplete:
        raise ExportRejected(
            "table-not-complete", f"export {export_id}: tables not COMPLETE: {', '.join(incomplete)}"
        )
    return tables


def not_exported(tables: list[TableStatus]) -> list[str]:
    """The tables RDS skipped or failed, each as `target (status: warning)`."""
    return [
        f"{t.target} ({t.status}: {t.warning_message or 'no message'})"
        for t in tables
        if t.status != "COMPLETE"
    ]


def table_statuses(files: dict[str, bytes], export_id: str) -> list[TableStatus]:
    """All tables of the export, from tables-info files that must cover 1..N with no gap or overlap."""
    ranges: list[tuple[int, int, str]] = []
    for key in files:
        match = TABLES_INFO.search(key)
        if match and match.group("export_id") == export_id:
            ranges.append((int(match.group("first")), int(match.group("last")), key))
    if not ranges:
        raise ExportRejected("tables-info-missing", f"export {export_id} has no export_tables_info file")
    ranges.sort()
    expected_first = 1
    tables: list[TableStatus] = []
    for first, last, key in ranges:
        if first != expected_first:
            raise ExportRejected(
                "tables-info-missing",
                f"export {export_id}: tables {expected_first}..{first - 1} are in no tables-info file",
            )
        try:
            part = TablesInfo.model_validate(json.loads(files[key]))
        except (ValueError, ValidationError) as exc:
            raise ExportRejected("tables-info-invalid", f"{key} is truncated or invalid: {exc}") from exc
        if len(part.per_table_status) != last - first + 1:
            raise ExportRejected(
                "tables-info-invalid",
                f"{key} lists {len(part.per_table_status)} tables, its name promises {last - first + 1}",
            )
        tables.extend(part.per_table_status)
        expected_first = last + 1
    if not tables:
        raise ExportRejected("empty-export", f"export {export_id} has no tables")
    return tables
