"""An increment as Parquet files on S3, sized for COPY, and the manifest (Redshift's format) that
names them: the same files Redshift's COPY reads in AWS and the local COPY reads from the local S3."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TARGET_FILE_BYTES = (
    64 * 1024 * 1024
)  # in memory; Parquet makes them a fraction of it, within COPY's 1 MB-1 GB


def _split(rows: pa.Table) -> list[pa.Table]:
    if rows.num_rows == 0:
        return []
    per_file = max(1, int(rows.num_rows * TARGET_FILE_BYTES / max(rows.nbytes, 1)))
    return [rows.slice(start, per_file) for start in range(0, rows.num_rows, per_file)]


def write_files(s3: S3Client, bucket: str, prefix: str, rows: pa.Table) -> str | None:
    """Write `rows` as Parquet files under `s3://bucket/prefix/` and a manifest; the manifest's URL,
    None when there are no rows. Two files are encoded and uploaded at a time (Arrow's Parquet writer
    and the upload run without the GIL)."""

    def put(index: int, part: pa.Table) -> dict[str, Any]:
        buffer = io.BytesIO()
        pq.write_table(part, buffer, compression="zstd")
        key = f"{prefix}/part-{index:05d}.parquet"
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        return {"url": f"s3://{bucket}/{key}", "mandatory": True, "meta": {"content_length": buffer.tell()}}

    parts = _split(rows)
    with ThreadPoolExecutor(max_workers=2) as pool:
        entries = list(pool.map(put, range(len(parts)), parts))
    if not entries:
        return None
    manifest_key = f"{prefix}/manifest.json"
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps({"entries": entries}).encode())
    return f"s3://{bucket}/{manifest_key}"
