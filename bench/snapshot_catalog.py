"""Registering an RDS export with add_files against making it queryable by rewriting it.

Both run in one process on the local stack, on the same export in RDS's layout (TPC-H, SF 1, or SF 0.1
with --quick): the platform's `catalog_export` (footers only, no data rewritten) and a rewrite that reads
every file and appends it to an Iceberg table with pyiceberg.

On loopback the local S3 moves bytes at memory speed, so time alone understates what registration
saves in AWS, where a rewrite pays S3 throughput and Parquet re-encoding. Each path's S3 traffic is
therefore counted where it happens: the payload of every request and response of its boto3 S3 client
(botocore event hooks), and every byte through its pyiceberg FileIO (a counting PyArrowFileIO). The
last two lines: `RATIO snapshot_catalog_bytes <rewrite bytes / registration bytes>`, then `RATIO
snapshot_catalog <rewrite_s / add_files_s>`.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.io import PY_IO_IMPL, InputFile, InputStream, OutputFile, OutputStream
from pyiceberg.io.pyarrow import PyArrowFileIO

from dataplatform.aws import client
from dataplatform.events import EventPublisher
from dataplatform.iceberg.catalog import CATALOG_NAME, catalog_properties
from dataplatform.settings import Settings
from dataplatform.snapshot_catalog.catalog_export import CatalogDeps, catalog_export
from dataplatform.snapshot_catalog.files import list_parquet
from dptools.local.paths import LocalPaths
from dptools.local.stack import LocalStack
from dptools.samples.rds_export import TABLES, generate_tpch, s3_writer, write_rds_export

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIX = "bench/exports"  # outside the rule's exports/ prefix: the dispatcher leaves it alone
REWRITE_NAMESPACE = "bench_rewrite"
MIB = 2**20


@dataclass
class Traffic:
    """Bytes read from and written to S3, by every counted client and FileIO of this process."""

    read: int = 0
    written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, read: int = 0, written: int = 0) -> None:
        with self._lock:
            self.read += read
            self.written += written

    def since(self, start: tuple[int, int]) -> tuple[int, int]:
        return self.read - start[0], self.written - start[1]

    @property
    def mark(self) -> tuple[int, int]:
        return self.read, self.written


TRAFFIC = Traffic()


def counted_s3(settings: Settings) -> S3Client:
    """An S3 client whose request and response payloads (Content-Length) are added to TRAFFIC."""
    s3 = client("s3", settings)

    def sent(request: Any, **_: Any) -> None:
        TRAFFIC.add(written=int(request.headers.get("Content-Length", 0)))

    def received(http_response: Any, **_: Any) -> None:
        TRAFFIC.add(read=int(http_response.headers.get("content-length", 0)))

    s3.meta.events.register("before-send.s3", sent)
    s3.meta.events.register("after-call.s3", received)
    return s3


class CountingStream:
    """A FileIO stream that adds the bytes passing through it to TRAFFIC."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read() if size is None or size < 0 else self._stream.read(size)
        TRAFFIC.add(read=len(data))
        return data

    def write(self, data: bytes) -> int:
        TRAFFIC.add(written=len(data))
        written: int = self._stream.write(data)
        return written

    def seek(self, offset: int, whence: int = 0) -> int:
        position: int = self._stream.seek(offset, whence)
        return position

    def tell(self) -> int:
        position: int = self._stream.tell()
        return position

    def flush(self) -> None:
        self._stream.flush()

    def readable(self) -> bool:
        return bool(self._stream.readable())

    def writable(self) -> bool:
        return bool(self._stream.writable())

    def seekable(self) -> bool:
        return bool(self._stream.seekable())

    @property
    def closed(self) -> bool:
        return bool(self._stream.closed)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> CountingStream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class CountingFile(InputFile, OutputFile):
    """A FileIO file whose streams count their bytes."""

    def __init__(self, file: InputFile | OutputFile) -> None:
        super().__init__(file.location)
        self._file: Any = file

    def __len__(self) -> int:
        return len(self._file)

    def exists(self) -> bool:
        return bool(self._file.exists())

    def open(self, seekable: bool = True) -> InputStream:
        return CountingStream(self._file.open(seekable))

    def create(self, overwrite: bool = False) -> OutputStream:
        return CountingStream(self._file.create(overwrite))

    def to_input_file(self) -> InputFile:
        return self


class CountingFileIO(PyArrowFileIO):
    """pyiceberg's PyArrow FileIO, counting every byte its files read and write."""

    def new_input(self, location: str) -> CountingFile:  # type: ignore[override]
        return CountingFile(super().new_input(location))

    def new_output(self, location: str) -> CountingFile:  # type: ignore[override]
        return CountingFile(super().new_output(location))


def counted_catalog(settings: Settings) -> Catalog:
    """The Glue catalog, its tables' FileIO counting (pyiceberg imports it by name: `py-io-impl`)."""
    io_impl = f"{CountingFileIO.__module__}.{CountingFileIO.__qualname__}"
    return load_catalog(CATALOG_NAME, **catalog_properties(settings), **{PY_IO_IMPL: io_impl})


def rewrite(settings: Settings, bucket: str, root: str) -> tuple[float, int]:
    """Read every file of every table and append it to a fresh Iceberg table: one commit per table."""
    s3, catalog = counted_s3(settings), counted_catalog(settings)
    catalog.create_namespace_if_not_exists(
        REWRITE_NAMESPACE, {"location": f"s3://{bucket}/iceberg/{REWRITE_NAMESPACE}"}
    )
    io = catalog._load_file_io(location=f"s3://{bucket}/{root}")
    started, rows = time.perf_counter(), 0
    for name in TABLES:
        identifier = f"{REWRITE_NAMESPACE}.tpch__public__{name}"
        catalog.purge_table(identifier) if catalog.table_exists(identifier) else None
        parts = []
        for path, _ in list_parquet(s3, bucket, f"{root}/tpch/public.{name}/"):
            with io.new_input(path).open() as stream:
                parts.append(pq.read_table(stream))
        data = pa.concat_tables(parts)
        catalog.create_table(identifier, schema=data.schema).append(data)
        rows += data.num_rows
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="SF 0.1 instead of SF 1 (under a minute)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0

    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(paths=LocalPaths(Path(tmp)))
        try:
            settings = stack.up()
            bucket = settings.require("raw_bucket")
            s3 = client("s3", settings)
            tpch = generate_tpch(scale, Path(tmp) / "tpch")

            export = write_rds_export(
                s3_writer(s3, bucket),
                tpch,
                date(2026, 11, 1),
                bucket,
                prefix=PREFIX,
            )
            total_bytes = sum(
                size
                for name in TABLES
                for _, size in list_parquet(s3, bucket, f"{PREFIX}/{export.export_id}/tpch/public.{name}/")
            )
            print(
                f"export: TPC-H SF {scale:g}, {export.files} files, {total_bytes / 2**20:.0f} MiB, {sum(export.rows.values()):,} rows"
            )

            deps = CatalogDeps(
                s3=counted_s3(settings),
                catalog=counted_catalog(settings),
                publisher=EventPublisher(client("events", settings), settings.require("event_bus")),
            )
            start, started = TRAFFIC.mark, time.perf_counter()
            result = catalog_export(bucket, export.info_key, deps)
            add_files_s = time.perf_counter() - started
            registration = TRAFFIC.since(start)
            assert result.status == "registered", result.message
            print(
                f"add_files (platform): {add_files_s:.2f} s for {result.files} files; {_traffic(registration)}"
            )

            start = TRAFFIC.mark
            rewrite_s, rows = rewrite(settings, bucket, f"{PREFIX}/{export.export_id}")
            rewritten = TRAFFIC.since(start)
            assert rows == sum(export.rows.values())
            print(
                f"rewrite (read + pyiceberg append): {rewrite_s:.2f} s for {rows:,} rows; {_traffic(rewritten)}"
            )
        finally:
            stack.down()
    print(f"RATIO snapshot_catalog_bytes {sum(rewritten) / sum(registration):.1f}")
    print(f"RATIO snapshot_catalog {rewrite_s / add_files_s:.1f}")


def _traffic(counted: tuple[int, int]) -> str:
    read, written = counted
    return f"S3 read {read / MIB:.2f} MiB, written {written / MIB:.2f} MiB"


if __name__ == "__main__":
    main()
