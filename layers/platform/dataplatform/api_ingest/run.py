"""One ingestion run: pages to Parquet to one Iceberg commit, then the watermark, then the event.

The order is what makes a run safe to repeat. Nothing is committed until every page is fetched and
written; a failure deletes the run's files and leaves the table and the watermark as they were. A run
already committed (found by its run id in the state table, or in the snapshot summaries if the function
died after the commit) is not run again, only finished: watermark advanced, event announced.
Records re-read through the overlap window, or by a backfill over data already in the table, are
recognised by primary key and cursor value and not written twice.
"""

from __future__ import annotations

import json
import string
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog

from dataplatform.api_ingest.definition import Endpoint, SourceDefinition, find_source, load_sources
from dataplatform.api_ingest.http import HttpClient
from dataplatform.api_ingest.pages import first_request, iter_pages
from dataplatform.api_ingest.raw_table import (
    INGESTED_AT,
    PAGE,
    ROW,
    RUN_ID_COLUMN,
    commit_run,
    committed_run,
    ensure_table,
    record_keys,
)
from dataplatform.api_ingest.records import RESCUED, RecordSchema, max_string, project
from dataplatform.api_ingest.request import IngestEvent, Window, iso, scheduled_window
from dataplatform.api_ingest.run_files import RunFiles
from dataplatform.api_ingest.state import IngestState, RunRecord
from dataplatform.aws import client
from dataplatform.events import EventPublisher, RawDataLanded
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.iceberg.summary import (
    ENDPOINT,
    MODE,
    RECORDS,
    RUN_ID,
    SOURCE,
    WATERMARK,
    WINDOW_END,
    WINDOW_START,
)
from dataplatform.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient

RAW_DATABASE = "raw"
QUARANTINE_PREFIX = "_quarantine/api_ingest"


@dataclass
class IngestDeps:
    catalog: Catalog
    s3: S3Client
    secrets: SecretsManagerClient
    state: IngestState
    publisher: EventPublisher
    sources: dict[str, SourceDefinition]
    raw_bucket: str
    secret_prefix: str
    tmp_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings, sources_dir: Path) -> IngestDeps:
        return cls(
            catalog=glue_catalog(settings),
            s3=client("s3", settings),
            secrets=client("secretsmanager", settings),
            state=IngestState(client("dynamodb", settings), settings.require("ingest_state_table")),
            publisher=EventPublisher(client("events", settings), settings.require("event_bus")),
            sources=load_sources(sources_dir, settings.source_env),
            raw_bucket=settings.require("raw_bucket"),
            secret_prefix=settings.secret_prefix or "",
        )

    def source(self, name: str) -> SourceDefinition:
        return find_source(self.sources, name)


IngestStatus = Literal["committed", "empty", "already-committed"]


@dataclass(frozen=True)
class IngestResult:
    run_id: str
    table: str
    status: IngestStatus
    snapshot_id: int | None = None
    record_count: int = 0
    pages: int = 0
    files: int = 0
    duplicates_skipped: int = 0
    rescued_rows: int = 0
    window: dict[str, str] | None = None
    watermark: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def metrics(self) -> dict[str, int]:
        return {
            "RecordsIngested": self.record_count,
            "PagesFetched": self.pages,
            "DuplicatesSkipped": self.duplicates_skipped,
            "RowsRescued": self.rescued_rows,
        }


class RunFailed(RuntimeError):
    """The run stopped before its commit; nothing was committed and the watermark did not move."""


def render_params(endpoint: Endpoint, window: Window | None) -> dict[str, Any]:
    values = {"start": iso(window.start), "end": iso(window.end)} if window else {}
    return {
        name: string.Formatter().vformat(value, (), values) if isinstance(value, str) else value
        for name, value in endpoint.params.items()
    }


def _known_keys(table: Any, endpoint: Endpoint, window: Window, until: str | None) -> pa.Array:
    """Keys of records already in the table that this window may fetch again."""
    assert endpoint.incremental is not None
    cursor = endpoint.incremental.cursor_field
    names = set(table.schema().column_names)
    if until is None or cursor not in names or not set(endpoint.primary_key) <= names:
        return pa.array([], pa.string())
    # ISO-8601 strings, the window's own and the watermark (which parsed as a timestamp): no quotes.
    row_filter = f"{cursor} >= '{iso(window.start)}' AND {cursor} <= '{until}'"
    rows = table.scan(row_filter=row_filter, selected_fields=(*endpoint.primary_key, cursor)).to_arrow()
    return record_keys(rows, endpoint.primary_key, cursor)


class RunColumns:
    """The ingestion columns of every row: constants of the run, sliced per page rather than rebuilt."""

    def __init__(self, run_id: str, ingested_at: datetime, rows: int = 5_000) -> None:
        self._run_id, self._ingested_at, self._rows = run_id, ingested_at, rows
        self._build(rows)

    def _build(self, rows: int) -> None:
        self._rows = rows
        self._run_ids = pa.array([self._run_id] * rows, pa.string())
        self._times = pa.array([self._ingested_at] * rows, pa.timestamp("us", tz="UTC"))
        self._positions = pa.array(range(rows), pa.int64())

    def add(self, batch: pa.RecordBatch, schema: pa.Schema, page: int) -> pa.RecordBatch:
        rows = batch.num_rows
        if rows > self._rows:
            self._build(rows)
        columns = [project(batch.column(f.name), f.type) for f in schema]
        extra = {
            RUN_ID_COLUMN: self._run_ids.slice(0, rows),
            INGESTED_AT: self._times.slice(0, rows),
            PAGE: pa.array([page] * rows, pa.int64()),
            ROW: self._positions.slice(0, rows),
            RESCUED: batch.column(RESCUED),
        }
        return pa.RecordBatch.from_arrays([*columns, *extra.values()], names=[*schema.names, *extra])


class Run:
    def __init__(self, event: IngestEvent, deps: IngestDeps) -> None:
        self.event, self.deps = event, deps
        self.source = deps.source(event.source)
        self.endpoint = self.source.endpoint(event.endpoint)
        self.identifier = f"{RAW_DATABASE}.{self.source.table_name(self.endpoint)}"
        self.run_id = event.run_id
        if event.mode == "backfill" and self.endpoint.incremental is None:
            raise ValueError(f"{self.identifier} has no incremental cursor, so it cannot be backfilled")

    def execute(self) -> IngestResult:
        state, source, endpoint = self.deps.state, self.source, self.endpoint
        done = state.run(source.name, endpoint.name, self.run_id)
        if done is not None:
            return IngestResult(
                self.run_id, self.identifier, "already-committed", done.snapshot_id, done.record_count
            )
        table = ensure_table(self.deps.catalog, self.identifier, f"{source.name} {endpoint.path}")
        snapshot = committed_run(table, self.run_id)
        if snapshot is not None and snapshot.summary is not None:
            # The function died after its commit: finish what it left undone.
            summary = snapshot.summary
            record = RunRecord(self.run_id, self.identifier, snapshot.snapshot_id, int(summary[RECORDS] or 0))
            self._finish(record, summary.get(WATERMARK))
            return IngestResult(
                self.run_id, self.identifier, "already-committed", snapshot.snapshot_id, record.record_count
            )
        return self._pull(table)

    def _window(self) -> tuple[Window | None, str | None]:
        """The window to pull, and the point up to which the table may already hold its records."""
        if self.endpoint.incremental is None:
            return None, None
        if self.event.window is not None:
            return self.event.window, iso(self.event.window.end)
        assert self.event.scheduled_time is not None
        watermark = self.deps.state.watermark(self.source.name, self.endpoint.name)
        window = scheduled_window(self.endpoint, watermark, self.event.scheduled_time)
        return window, watermark

    def _pull(self, table: Any) -> IngestResult:
        window, known_until = self._window()
        window_json = {"start": iso(window.start), "end": iso(window.end)} if window else None
        if self.endpoint.incremental is not None and window is None:
            self.deps.state.record_run(
                self.source.name, self.endpoint.name, RunRecord(self.run_id, self.identifier, None, 0)
            )
            return IngestResult(self.run_id, self.identifier, "empty")
        known = (
            _known_keys(table, self.endpoint, window, known_until) if window else pa.array([], pa.string())
        )
        cursor = self.endpoint.incremental.cursor_field if self.endpoint.incremental else None
        ingested_at = datetime.now(UTC)
        schema = RecordSchema(table.schema().as_arrow())
        data_uri = f"{table.location()}/data/{INGESTED_AT}_day={ingested_at:%Y-%m-%d}"
        files = RunFiles(self.deps.s3, data_uri, self.run_id, self.deps.tmp_dir)
        run_columns = RunColumns(self.run_id, ingested_at)
        pages = skipped = rescued = 0
        high: str | None = None
        try:
            with HttpClient(
                self.source, self.deps.secrets, self.deps.secret_prefix, self.endpoint.page_concurrency + 1
            ) as http:
                request = first_request(
                    self.endpoint, self.source.base_url, render_params(self.endpoint, window)
                )
                for page in iter_pages(http.get, self.endpoint, request, lambda: schema.type):
                    pages += 1
                    batch = schema.conform(page.parsed)
                    if cursor is not None and len(known):
                        repeated = pc.is_in(record_keys(batch, self.endpoint.primary_key, cursor), known)
                        kept = batch.filter(pc.invert(repeated))
                        skipped += batch.num_rows - kept.num_rows
                        batch = kept
                    rescued += batch.num_rows - batch.column(RESCUED).null_count
                    if cursor is not None:
                        top = max_string(batch, cursor)
                        high = top if high is None or (top is not None and top > high) else high
                    written = run_columns.add(batch, schema.write_schema(), page.request.number)
                    files.write(written)
            uploaded = files.finish()
            if files.rows == 0:
                record = RunRecord(self.run_id, self.identifier, None, 0)
                self.deps.state.record_run(self.source.name, self.endpoint.name, record)
                return IngestResult(
                    self.run_id,
                    self.identifier,
                    "empty",
                    pages=pages,
                    duplicates_skipped=skipped,
                    window=window_json,
                )
            summary = {
                RUN_ID: self.run_id,
                MODE: self.event.mode,
                RECORDS: str(files.rows),
                SOURCE: self.source.name,
                ENDPOINT: self.endpoint.name,
                **(
                    {WINDOW_START: window_json["start"], WINDOW_END: window_json["end"]}
                    if window_json
                    else {}
                ),
                **({WATERMARK: high} if high else {}),
            }
            # Schemas only grow during a run, so the last batch's is every file's superset.
            snapshot_id, _ = commit_run(self.deps.catalog, self.identifier, written.schema, uploaded, summary)
        except Exception as exc:
            files.discard()
            self._quarantine(exc, window_json, pages)
            raise RunFailed(f"{self.identifier} run {self.run_id} failed, nothing committed: {exc}") from exc
        finally:
            files.close()
        record = RunRecord(self.run_id, self.identifier, snapshot_id, files.rows)
        self._finish(record, high)
        return IngestResult(
            self.run_id,
            self.identifier,
            "committed",
            snapshot_id,
            files.rows,
            pages,
            len(uploaded),
            skipped,
            rescued,
            window_json,
            high,
        )

    def _finish(self, record: RunRecord, high: str | None) -> None:
        """After the commit: watermark (scheduled runs only), event, and the run's record, in that order."""
        source, endpoint = self.source.name, self.endpoint.name
        if self.event.mode == "scheduled" and high is not None:
            self.deps.state.advance_watermark(source, endpoint, high, self.run_id)
        if record.snapshot_id is not None:
            self.deps.publisher.publish(
                RawDataLanded(
                    table=self.identifier,
                    snapshot_id=record.snapshot_id,
                    run_id=self.run_id,
                    record_count=record.record_count,
                )
            )
        self.deps.state.record_run(source, endpoint, replace(record, announced=True))

    def _quarantine(self, exc: Exception, window: dict[str, str] | None, pages: int) -> None:
        record = {
            "run_id": self.run_id,
            "table": self.identifier,
            "event": self.event.model_dump(mode="json"),
            "window": window,
            "pages_fetched": pages,
            "error": type(exc).__name__,
            "message": str(exc),
            "failed_at": datetime.now(UTC).isoformat(),
        }
        key = f"{QUARANTINE_PREFIX}/{self.source.name}/{self.endpoint.name}/{self.run_id}.json"
        self.deps.s3.put_object(Bucket=self.deps.raw_bucket, Key=key, Body=json.dumps(record, indent=2))


def ingest(event: IngestEvent, deps: IngestDeps) -> IngestResult:
    return Run(event, deps).execute()
