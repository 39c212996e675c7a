"""The local warehouse: PostgreSQL over loopback, running the Redshift plan transpiled by sqlglot.

COPY ... FROM a manifest becomes PostgreSQL's COPY FROM STDIN, fed with the manifest's Parquet files
read from the (local) S3 as CSV, so the same files and the same plan load both warehouses.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from dataplatform.warehouse.connection import CopyFromManifest, Statement
from dataplatform.warehouse.dialect import Dialect, to_dialect
from dataplatform.warehouse.errors import (
    LoadInputError,
    SerializationConflictError,
    WarehouseError,
    WarehouseUnavailableError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_T = TypeVar("_T")
_R = TypeVar("_R")
_COPY_CHUNK_ROWS = 100_000
_FILES_AHEAD = 2  # manifest files fetched and rendered while the server parses the one before
# A load's session: the TEMP staging table's pages stay in this backend's memory (temp_buffers, set
# before its first use), and the sort that de-duplicates a batch of millions of rows runs in memory
# rather than through temporary files (work_mem). Only the loader's transaction asks for them.
_LOAD_SETTINGS = ("SET LOCAL temp_buffers = '2GB'", "SET LOCAL work_mem = '2GB'")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostgresConnection:
    """Where the server is and who to be: the fields of a Redshift-style secret."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_secret(cls, value: dict[str, Any]) -> PostgresConnection:
        try:
            return cls(
                value["host"], int(value["port"]), value["username"], value["password"], value["dbname"]
            )
        except KeyError as missing:
            raise WarehouseUnavailableError(
                f"the warehouse secret has no {missing}: is the local warehouse up (`dp stack up`)?"
            ) from None

    def url(self) -> str:
        from urllib.parse import quote

        return f"postgresql://{quote(self.user)}:{quote(self.password)}@{self.host}:{self.port}/{self.dbname}"


class PostgresWarehouse:
    dialect: Dialect = "postgres"

    def __init__(self, connection: PostgresConnection, s3: S3Client) -> None:
        self.connection = connection
        self.s3 = s3

    def _connect(self) -> Any:
        import psycopg

        c = self.connection
        try:
            return psycopg.connect(
                host=c.host, port=c.port, user=c.user, password=c.password, dbname=c.dbname, connect_timeout=5
            )
        except psycopg.OperationalError as error:
            reason = str(error).strip().splitlines()[-1]
            raise WarehouseUnavailableError(
                f"the warehouse at {c.host}:{c.port} is unreachable ({reason}): is it up (`dp stack up`)?"
            ) from None

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self._connect() as conn:
            return list(conn.execute(to_dialect(sql, self.dialect)).fetchall())

    def transaction(self, statements: Sequence[Statement], token: str) -> None:
        import psycopg
        from psycopg import IsolationLevel

        conn = self._connect()
        conn.isolation_level = IsolationLevel.SERIALIZABLE
        try:
            with conn.transaction():
                for setting in _LOAD_SETTINGS:
                    conn.execute(setting)
                for statement in statements:
                    started = time.perf_counter()
                    if isinstance(statement, CopyFromManifest):
                        self._copy(conn, statement)
                    else:
                        conn.execute(to_dialect(statement, self.dialect))
                    logger.debug("%.2fs %s", time.perf_counter() - started, _redacted(statement))
        except psycopg.errors.SerializationFailure as error:
            raise SerializationConflictError(f"transaction {token}: {str(error).splitlines()[0]}") from None
        except psycopg.Error as error:
            raise WarehouseError(f"transaction {token} rolled back: {str(error).splitlines()[0]}") from None
        finally:
            conn.close()

    def _copy(self, conn: Any, copy: CopyFromManifest) -> None:
        from psycopg.copy import QueuedLibpqWriter

        entries = _manifest_entries(self.s3, copy.manifest_url)
        columns = ", ".join(copy.columns)
        cursor = conn.cursor()
        # Queued: the server parses one chunk while this process sends the next; the next files are
        # fetched and rendered in threads meanwhile (Arrow's Parquet and CSV code runs without the GIL).
        sql = f"COPY {copy.table} ({columns}) FROM STDIN WITH (FORMAT csv)"
        with cursor.copy(sql, writer=QueuedLibpqWriter(cursor)) as sink:
            for chunks in _prefetched(lambda url: self._csv(url, copy.columns), entries, _FILES_AHEAD):
                for chunk in chunks:
                    sink.write(chunk)

    def _csv(self, url: str, columns: Sequence[str]) -> list[memoryview]:
        """One manifest file's rows as CSV chunks for COPY."""
        import pyarrow.csv as pa_csv
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(_get(self.s3, url)), columns=list(columns))
        options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
        chunks = []
        for batch in table.to_batches(_COPY_CHUNK_ROWS):
            buffer = io.BytesIO()
            pa_csv.write_csv(batch, buffer, options)
            chunks.append(buffer.getbuffer())
        return chunks


def _prefetched(work: Callable[[_T], _R], items: Iterable[_T], ahead: int) -> Iterator[_R]:
    """`work(item)` for each item, in order, with up to `ahead` items worked on in threads beforehand."""
    with ThreadPoolExecutor(max_workers=ahead) as pool:
        pending: deque[Future[_R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _redacted(statement: Statement) -> str:
    """A statement for the log: its start, never a password."""
    return re.sub(r"PASSWORD\s+'[^']*'", "PASSWORD '***'", str(statement), flags=re.IGNORECASE)[:120]


def _split(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    return parsed.netloc, parsed.path.lstrip("/")


def _get(s3: S3Client, url: str) -> bytes:
    bucket, key = _split(url)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise LoadInputError(f"the manifest names a missing file: {url}") from None


def _manifest_entries(s3: S3Client, manifest_url: str) -> list[str]:
    manifest = json.loads(_get(s3, manifest_url))
    return [entry["url"] for entry in manifest["entries"]]
