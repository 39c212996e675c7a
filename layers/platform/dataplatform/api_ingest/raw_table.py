"""The raw table of an endpoint: created on first use, one snapshot per run, found again by run id.

A run's files are added with one fast append whose summary carries the run id. Two runs committing to
one table at once conflict in the catalog (Glue checks the table version); the loser reloads the table,
re-evolves the schema and appends again, and if it finds its own run id already there (a replay that
raced it), it commits nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table, TableProperties
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.transforms import DayTransform
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

from dataplatform.api_ingest.run_files import UploadedFile
from dataplatform.iceberg.data_files import data_file
from dataplatform.iceberg.summary import RUN_ID

COMMIT_ATTEMPTS = 8

RUN_ID_COLUMN, INGESTED_AT, PAGE, ROW = "_run_id", "_ingested_at", "_page", "_row"
METADATA_SCHEMA = Schema(
    NestedField(1, RUN_ID_COLUMN, StringType(), required=False),
    NestedField(2, INGESTED_AT, TimestamptzType(), required=False),
    NestedField(3, PAGE, LongType(), required=False),
    NestedField(4, ROW, LongType(), required=False),
    NestedField(5, "_rescued_data", StringType(), required=False),
)
PARTITION_SPEC = PartitionSpec(PartitionField(2, 1000, DayTransform(), f"{INGESTED_AT}_day"))


def ensure_table(catalog: Catalog, identifier: str, description: str) -> Table:
    """The raw table, created with only the ingestion columns if it does not exist yet."""
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        pass
    properties = {
        # Run files are written before the schema grows, so they carry no field ids: read by name.
        TableProperties.DEFAULT_NAME_MAPPING: METADATA_SCHEMA.name_mapping.model_dump_json(),
        "write.parquet.compression-codec": "zstd",
        # commit_run retries conflicts itself, re-checking its run id first; pyiceberg's own retry would
        # re-apply the append blindly, and two racing replays of one run would both land.
        TableProperties.COMMIT_NUM_RETRIES: "0",
        "comment": description,
    }
    try:
        return catalog.create_table(
            identifier, schema=METADATA_SCHEMA, partition_spec=PARTITION_SPEC, properties=properties
        )
    except TableAlreadyExistsError:  # another run created it meanwhile
        return catalog.load_table(identifier)


def committed_run(table: Table, run_id: str) -> Snapshot | None:
    for snapshot in table.snapshots():
        if snapshot.summary is not None and snapshot.summary.get(RUN_ID) == run_id:
            return snapshot
    return None


def record_keys(rows: pa.Table | pa.RecordBatch, key_columns: list[str], cursor_field: str) -> pa.Array:
    """One string per row identifying a version of a record: its primary key and its cursor value."""
    parts = [rows.column(name).cast(pa.string()) for name in [*key_columns, cursor_field]]
    joined = pc.binary_join_element_wise(*parts, "|", null_handling="replace", null_replacement="")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def commit_run(
    catalog: Catalog,
    identifier: str,
    schema: pa.Schema,
    files: list[UploadedFile],
    summary: Mapping[str, str],
) -> tuple[int, bool]:
    """Append the run's files in one snapshot; returns (snapshot id, whether this call committed it)."""
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        table = catalog.load_table(identifier)
        done = committed_run(table, summary[RUN_ID])
        if done is not None:
            return done.snapshot_id, False
        tx = table.transaction()
        with tx.update_schema() as update:
            update.union_by_name(schema)
        data_files = [data_file(tx.table_metadata, f.uri, f.size, f.footer) for f in files]
        with tx.update_snapshot(snapshot_properties=dict(summary)).fast_append() as append:
            for new in data_files:
                append.append_data_file(new)
        try:
            tx.commit_transaction()
        except CommitFailedException:
            if attempt == COMMIT_ATTEMPTS:
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
            continue
        snapshot = tx.table_metadata.current_snapshot()
        assert snapshot is not None
        return snapshot.snapshot_id, True
    raise AssertionError("unreachable")
