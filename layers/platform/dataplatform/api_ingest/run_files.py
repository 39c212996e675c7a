"""A run's zstd Parquet files: written from a bounded buffer to local disk, uploaded as each one closes.

Memory holds at most one row group's worth of rows; the rest is on disk (Lambda's /tmp) or in S3. A new
file starts when the run's schema grows (so each file has one schema) or a file reaches ROWS_PER_FILE.
If the run fails, `discard` deletes what was uploaded: an uncommitted run leaves nothing in the table's
data folder.
"""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
from boto3.s3.transfer import TransferConfig

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROWS_PER_GROUP = 20_000
ROWS_PER_FILE = 1_000_000
ZSTD_LEVEL = 3
# Multipart parts are held in memory while they go up: 2 x 8 MiB, not s3transfer's 10 x 8 MiB.
UPLOAD = TransferConfig(max_concurrency=2, multipart_chunksize=8 * 2**20)


@dataclass(frozen=True)
class UploadedFile:
    uri: str
    size: int
    rows: int
    footer: pq.FileMetaData


class RunFiles:
    def __init__(self, s3: S3Client, data_uri: str, run_id: str, tmp_dir: Path | None = None) -> None:
        self._s3 = s3
        self._data_uri = data_uri.rstrip("/")
        self._prefix = run_id.replace(":", "-").replace("/", "-")
        self._dir = Path(tempfile.mkdtemp(prefix="api-ingest-", dir=tmp_dir))
        self._uploads = ThreadPoolExecutor(2, thread_name_prefix="upload")
        self._pending: list[Future[UploadedFile]] = []
        self._writer: pq.ParquetWriter | None = None
        self._path: Path | None = None
        self._buffer: list[pa.RecordBatch] = []
        self._buffered = 0
        self._file_rows = 0
        self._count = 0
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        current = self._writer.schema if self._writer is not None else None
        if current is None and self._buffer:
            current = self._buffer[0].schema
        if current is not None and not batch.schema.equals(current):
            self._close_file()
        self._buffer.append(batch)
        self._buffered += batch.num_rows
        self.rows += batch.num_rows
        if self._buffered >= ROWS_PER_GROUP:
            self._flush()
            if self._file_rows >= ROWS_PER_FILE:
                self._close_file()

    def _flush(self) -> None:
        """Write the buffered rows as one row group of the open file (opening one if needed)."""
        if not self._buffer:
            return
        table = pa.Table.from_batches(self._buffer)
        if self._writer is None:
            self._path = self._dir / f"{self._prefix}-{self._count:05d}.parquet"
            self._writer = pq.ParquetWriter(
                self._path, table.schema, compression="zstd", compression_level=ZSTD_LEVEL
            )
        self._writer.write_table(table, row_group_size=ROWS_PER_GROUP)
        self._file_rows += table.num_rows
        self._buffer, self._buffered = [], 0

    def _close_file(self) -> None:
        """Close the open file and start its upload in the background."""
        self._flush()
        if self._writer is None:
            return
        self._writer.close()
        assert self._path is not None
        path, rows = self._path, self._file_rows
        uri = f"{self._data_uri}/{path.name}"
        self._pending.append(self._uploads.submit(self._upload, path, uri, rows))
        self._writer, self._path, self._file_rows = None, None, 0
        self._count += 1

    def _upload(self, path: Path, uri: str, rows: int) -> UploadedFile:
        footer = pq.read_metadata(path)
        size = path.stat().st_size
        parsed = urlparse(uri)
        self._s3.upload_file(str(path), parsed.netloc, parsed.path.lstrip("/"), Config=UPLOAD)
        path.unlink()
        return UploadedFile(uri, size, rows, footer)

    def finish(self) -> list[UploadedFile]:
        """Close the last file and wait for every upload."""
        self._close_file()
        return [future.result() for future in self._pending]

    def discard(self) -> None:
        """Delete every file of this run, local or uploaded; called when the run fails."""
        for future in self._pending:
            try:
                uploaded = future.result()
            except Exception:  # its upload failed: nothing to delete in S3
                continue
            parsed = urlparse(uploaded.uri)
            self._s3.delete_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
        self._pending.clear()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._uploads.shutdown(wait=True)
        shutil.rmtree(self._dir, ignore_errors=True)
