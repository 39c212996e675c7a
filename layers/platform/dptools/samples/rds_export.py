"""`dp sample rds-export`: a TPC-H database exported the way RDS exports a PostgreSQL snapshot.

tpchgen-cli makes the TPC-H tables; this module rewrites them into RDS's layout and types:
`exports/<id>/<database>/<schema>.<table>/<batch>/part-<n>-<uuid>.gz.parquet` with gzip Parquet,
several part files (with gaps in the numbering) for the big tables, two batch folders for one table,
NUMERIC and DATE as strings, the tables-info files, and `export_info_<id>.json` written last, as RDS
does when the export completes.

An export dated after BASE_DATE changes ~1% of customer, part and orders rows and adds new orders, each
choice seeded by the date, so the same date always gives the same export.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from time import monotonic, sleep
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.snapshot_catalog.catalog_export import marker_key
from dataplatform.snapshot_export.snapshots import EXPORT_PREFIX, export_id_for
from dptools.samples.tpch import TABLES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BASE_DATE = date(2026, 11, 1)
DATABASE, SCHEMA = "tpch", "public"
ROWS_PER_PART = 20_000
MULTI_BATCH_TABLE = "partsupp"  # RDS splits a non-splittable table's export into several batch folders
CHANGED_SHARE = 0.01
NEW_ORDERS_SHARE = 0.005


@dataclass(frozen=True)
class SampleExport:
    export_id: str
    bucket: str
    info_key: str
    rows: dict[str, int]
    files: int


def _tpchgen() -> str:
    """tpchgen-cli from this interpreter's venv, where `make` installs it, else from PATH."""
    beside = Path(sys.executable).parent / "tpchgen-cli"
    return str(beside) if beside.is_file() else (shutil.which("tpchgen-cli") or "tpchgen-cli")


def generate_tpch(scale_factor: float, out_dir: Path) -> Path:
    """TPC-H Parquet from tpchgen-cli, generated once per scale factor."""
    target = out_dir / f"sf{scale_factor:g}"
    if not (target / "lineitem.parquet").is_file():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [_tpchgen(), "parquet", "-s", f"{scale_factor:g}", "--output-dir", str(target)],
            check=True,
            capture_output=True,
        )
    return target


def _postgres_type(field: pa.Field) -> str:
    if pa.types.is_decimal(field.type):
        return f"numeric({field.type.precision},{field.type.scale})"
    if pa.types.is_date(field.type):
        return "date"
    if pa.types.is_int64(field.type):
        return "bigint"
    if pa.types.is_int32(field.type):
        return "integer"
    return "character varying"


def _exported_type(pg_type: str) -> str:
    return {"bigint": "int64", "integer": "int32"}.get(pg_type, "binary (UTF8)")


def to_rds_form(table: pa.Table) -> pa.Table:
    """PostgreSQL as RDS exports it: NUMERIC and DATE as strings, no field ids, nullable columns."""
    columns, fields = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        if (
            pa.types.is_decimal(field.type)
            or pa.types.is_date(field.type)
            or pa.types.is_string_view(field.type)
        ):
            column, kind = pc.cast(column, pa.string()), pa.string()
        else:
            kind = field.type
        columns.append(column)
        fields.append(pa.field(field.name, kind, nullable=True))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _change_rows(name: str, table: pa.Table, day: date) -> pa.Table:
    """~1% of customer, part and orders rows change, and orders grow, for exports after BASE_DATE."""
    if day <= BASE_DATE or name not in {"customer", "part", "orders"}:
        return table
    draws = pc.random(table.num_rows, initializer=day.toordinal() * 31 + TABLES.index(name))
    mask = pc.less(draws, CHANGED_SHARE)
    stamp = f"changed {day.isoformat()}"
    if name == "customer":
        table = table.set_column(
            table.schema.get_field_index("c_acctbal"),
            "c_acctbal",
            pc.if_else(
                mask,
                pc.cast(
                    pc.multiply(pc.cast(table["c_acctbal"], pa.float64()), 1.1),
                    table.schema.field("c_acctbal").type,
                ),
                table["c_acctbal"],
            ),
        )
    elif name == "part":
        table = table.set_column(
            table.schema.get_field_index("p_comment"),
            "p_comment",
            pc.if_else(mask, pa.scalar(stamp), pc.cast(table["p_comment"], pa.string())),
        )
    else:
        table = table.set_column(
            table.schema.get_field_index("o_orderstatus"),
            "o_orderstatus",
            pc.if_else(mask, pa.scalar("F"), pc.cast(table["o_orderstatus"], pa.string())),
        )
        new = max(1, int(table.num_rows * NEW_ORDERS_SHARE))
        template = table.slice(0, new)
        next_key = pc.max(table["o_orderkey"]).as_py() + 1
        keys = pa.array(range(next_key, next_key + new), pa.int64())
        template = template.set_column(0, "o_orderkey", keys)
        dates = pa.array([day] * new, pa.date32())
        template = template.set_column(template.schema.get_field_index("o_orderdate"), "o_orderdate", dates)
        table = pa.concat_tables([table, template.cast(table.schema)])
    return table


def _tables_info(statuses: list[dict[str, Any]], export_id: str) -> dict[str, bytes]:
    """Two tables-info files, as RDS writes for exports of many tables."""
    half = len(statuses) // 2
    files = {}
    for first, part in ((1, statuses[:half]), (half + 1, statuses[half:])):
        name = f"export_tables_info_{export_id}_from_{first}_to_{first + len(part) - 1}.json"
        files[name] = json.dumps({"perTableStatus": part}, indent=2).encode()
    return files


def write_rds_export(
    put: Callable[[str, bytes], None],
    tpch_dir: Path,
    day: date,
    bucket: str,
    rows_per_part: int = ROWS_PER_PART,
    prefix: str = EXPORT_PREFIX,
    *,
    export_id: str | None = None,
    source_arn: str | None = None,
    database: str = DATABASE,
) -> SampleExport:
    """Write the export through `put(key, body)`, the export_info file last. By default it is the
    export of the sample `tpch` instance's automated snapshot of `day`; an export task names its own
    id and snapshot, and its database may be named otherwise."""
    export_id = export_id or export_id_for(DATABASE, day)
    root = f"{prefix}/{export_id}"
    statuses, rows, files = [], {}, 0
    for name in TABLES:
        source = _change_rows(name, pq.read_table(tpch_dir / f"{name}.parquet"), day)
        exported = to_rds_form(source)
        rows[name] = exported.num_rows
        part_count = max(1, -(-exported.num_rows // rows_per_part))
        for index in range(part_count):
            batch = "2" if name == MULTI_BATCH_TABLE and index % 2 else "1"
            number = index * 2 if part_count > 1 else 0  # gaps in the part numbers, as RDS leaves them
            file_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"{export_id}/{name}/{index}")
            key = f"{root}/{database}/{SCHEMA}.{name}/{batch}/part-{number:05d}-{file_uuid}.gz.parquet"
            buffer = io.BytesIO()
            pq.write_table(exported.slice(index * rows_per_part, rows_per_part), buffer, compression="gzip")
            put(key, buffer.getvalue())
            files += 1
        mappings = [
            {
                "columnName": field.name,
                "originalType": _postgres_type(field),
                "expectedExportedType": _exported_type(_postgres_type(field)),
                "originalCharMaxLength": 0,
                "originalNumPrecision": getattr(field.type, "precision", 0),
                "originalDateTimePrecision": 0,
            }
            for field in source.schema
        ]
        statuses.append(
            {
                "tableStatistics": {
                    "partitioningInfo": {
                        "numberOfPartitions": part_count,
                        "numberOfCompletedPartitions": part_count,
                    }
                },
                "schemaMetadata": {"originalTypeMappings": mappings},
                "status": "COMPLETE",
                "sizeGB": round(source.nbytes / 2**30, 6),
                "target": f"{database}.{SCHEMA}.{name}",
            }
        )
    for name, body in _tables_info(statuses, export_id).items():
        put(f"{root}/{name}", body)
    snapshot_time = datetime.combine(day, time(6, 0), tzinfo=UTC)
    info = {
        "exportTaskIdentifier": export_id,
        "sourceArn": source_arn
        or f"arn:aws:rds:us-east-1:123456789012:snapshot:rds:{DATABASE}-{day.isoformat()}-06-00",
        "exportOnly": [],
        "snapshotTime": snapshot_time.isoformat(),
        "taskStartTime": snapshot_time.isoformat(),
        "taskEndTime": snapshot_time.replace(minute=30).isoformat(),
        "s3Bucket": bucket,
        "s3Prefix": prefix,
        "exportedFilesPath": root,
        "iamRoleArn": "arn:aws:iam::123456789012:role/rds-s3-export",
        "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/sample",
        "status": "COMPLETE",
        "percentProgress": 100,
        "totalExtractedDataInGB": round(sum(s["sizeGB"] for s in statuses), 6),
    }
    info_key = f"{root}/export_info_{export_id}.json"
    put(info_key, json.dumps(info, indent=2).encode())
    return SampleExport(export_id, bucket, info_key, rows, files)


class ExportNotCataloged(TimeoutError):
    """snapshot_catalog did not mark the export cataloged in time."""


def s3_writer(s3: S3Client, bucket: str) -> Callable[[str, bytes], None]:
    """`put(key, body)` into `bucket`, for `write_rds_export`."""

    def put(key: str, body: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    return put


def land_rds_export(
    settings: Settings, tpch_dir: Path, day: date, timeout_s: float = 120, **kwargs: Any
) -> SampleExport:
    """Write the export to the raw bucket as RDS does, then wait until snapshot_catalog (through the
    template's rule on the local stack) has cataloged it; ExportNotCataloged after `timeout_s`."""
    bucket = settings.require("raw_bucket")
    s3 = client("s3", settings)
    export = write_rds_export(s3_writer(s3, bucket), tpch_dir, day, bucket, **kwargs)
    deadline = monotonic() + timeout_s
    while s3.list_objects_v2(Bucket=bucket, Prefix=marker_key(export.export_id)).get("KeyCount", 0) == 0:
        if monotonic() > deadline:
            raise ExportNotCataloged(f"export {export.export_id} was not cataloged in {timeout_s:.0f}s")
        sleep(0.25)
    return export


def download_export(settings: Settings, export_id: str, into: Path) -> Path:
    """An export's Parquet files from the raw bucket, one folder per table under `into` (for an engine
    that reads the files as RDS wrote them, like DuckDB)."""
    s3, bucket = client("s3", settings), settings.require("raw_bucket")
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{EXPORT_PREFIX}/{export_id}/"
    ):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith(".parquet"):
                table = key.split("/")[3].split(".", 1)[1]  # exports/<id>/<db>/<schema>.<table>/...
                target = into / table / key.replace("/", "_")
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(target))
    return into
