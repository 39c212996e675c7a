"""The data files of an export: listed (paginated) per table, footers read in parallel, checked.

RDS names files `<table prefix>/<batch>/part-<n>-<uuid>.gz.parquet` but says the naming may change,
so every object under a table's prefix that ends in `.parquet` counts, whatever its folder or number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from dataplatform.snapshot_catalog.manifest import ExportRejected, TableStatus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FOOTER_READERS = 32
# The tail read of a table's first file, which holds most footers whole; its siblings share the schema
# and row-group layout, so their tail reads are that footer's length plus FOOTER_MARGIN. What is read
# beyond a footer is wasted, and it is most of what registration reads (bench/snapshot_catalog.py).
FOOTER_GUESS = 64 * 1024
FOOTER_MARGIN = 1024
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class ExportFile:
    path: str
    size: int
    footer: pq.FileMetaData
    footer_length: int = 0  # the footer with its length and magic: the bytes a tail read must hold


@dataclass(frozen=True)
class TableExport:
    status: TableStatus
    identifier: str
    files: list[ExportFile]

    @property
    def arrow_schema(self) -> pa.Schema:
        return self.files[0].footer.schema.to_arrow_schema()

    @property
    def record_count(self) -> int:
        return sum(f.footer.num_rows for f in self.files)


def raw_table_identifier(status: TableStatus) -> str:
    """`raw.<database>__<schema>__<table>`, in the lower-case word characters Glue accepts."""
    parts = (status.database, status.schema_name, status.table)
    return "raw." + "__".join(re.sub(r"[^a-z0-9_]", "_", p.lower()) for p in parts)


def list_parquet(s3: S3Client, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(".parquet"):
                yield f"s3://{bucket}/{obj['Key']}", int(obj["Size"])


def read_tables_info(s3: S3Client, bucket: str, export_root: str) -> dict[str, bytes]:
    """Every `export_tables_info_*.json` of the export, by key."""
    files = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{export_root}/export_tables_info_"
    ):
        for obj in page.get("Contents", []):
            files[obj["Key"]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return files


def _tail(s3: S3Client, bucket: str, key: str, length: int) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{length}")["Body"].read()
    return body


def _read_footer(s3: S3Client, path: str, size: int, guess: int = FOOTER_GUESS) -> ExportFile:
    """The Parquet footer from the file's tail: one ranged GET of `guess` bytes (the size is known from
    the listing), a second only when the footer is longer. The file itself is never read."""
    bucket, key = path.removeprefix("s3://").split("/", 1)
    try:
        if size < 12:  # magic, footer length, magic
            raise pa.ArrowInvalid(f"{size} bytes is too small for a Parquet file")
        tail = _tail(s3, bucket, key, min(size, guess))
        if tail[-4:] != PARQUET_MAGIC:
            raise pa.ArrowInvalid("no Parquet magic bytes at the end of the file")
        needed = int.from_bytes(tail[-8:-4], "little") + 8
        if needed > len(tail):
            if needed > size:
                raise pa.ArrowInvalid(f"footer of {needed} bytes in a file of {size}")
            tail = _tail(s3, bucket, key, needed)
        return ExportFile(path, size, pq.read_metadata(pa.BufferReader(tail)), needed)
    except (OSError, pa.ArrowException) as exc:
        raise ExportRejected("corrupt-file", f"{path} is not a readable Parquet file: {exc}") from exc


def read_table_files(
    status: TableStatus, s3: S3Client, bucket: str, export_root: str, pool: ThreadPoolExecutor
) -> TableExport:
    """List one table's files, read their footers (the first one's, then the others' in parallel), and
    check they agree on the schema."""
    prefix = f"{export_root}/{status.database}/{status.schema_name}.{status.table}/"
    listed = sorted(list_parquet(s3, bucket, prefix))
    files = [_read_footer(s3, *listed[0])] if listed else []
    if files:
        guess = files[0].footer_length + FOOTER_MARGIN
        files += pool.map(lambda item: _read_footer(s3, item[0], item[1], guess), listed[1:])
    table = TableExport(status, raw_table_identifier(status), files)
    if not files:
        return table
    reference = table.arrow_schema
    for file in files[1:]:
        schema = file.footer.schema.to_arrow_schema()
        if not schema.equals(reference, check_metadata=False):
            raise ExportRejected(
                "schema-conflict",
                f"{file.path} has schema {schema.to_string(show_schema_metadata=False)!r}, its siblings "
                f"{reference.to_string(show_schema_metadata=False)!r}",
            )
    return table
