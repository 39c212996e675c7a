"""Stage every table's Iceberg commit first, then commit them: all tables of an export, or none.

Glue has no transaction across tables, so everything that can fail on the data (schema evolution,
file compatibility) happens while staging, before the first commit. Each table's commit is one
snapshot that replaces the table's content with the export's files (no data is rewritten), carries the
export id in its summary, and tags the snapshot with the export date. A table that already has a
snapshot of this export is left alone, so a retry of a partly committed export converges.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table, TableProperties, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update.snapshot import ManageSnapshots

from dataplatform.iceberg.data_files import data_file
from dataplatform.iceberg.summary import EXPORT_ID, RUN_ID, SNAPSHOT_TIME, SOURCE_ARN
from dataplatform.snapshot_catalog import ORIGINAL_TYPE
from dataplatform.snapshot_catalog.files import ExportFile, TableExport
from dataplatform.snapshot_catalog.manifest import ExportInfo, ExportRejected

PARALLEL_TABLES = 8


TableOutcome = Literal["registered", "already-registered", "stale"]


@dataclass(frozen=True)
class StagedTable:
    identifier: str
    transaction: Transaction | None  # None: already registered (or stale), nothing to commit
    snapshot_id: int
    record_count: int
    file_count: int
    outcome: TableOutcome


def export_tag(info: ExportInfo) -> str:
    return f"export-{info.snapshot_time:%Y-%m-%d}"


def snapshot_of_export(table: Table, export_id: str) -> int | None:
    for snapshot in table.snapshots():
        if snapshot.summary is not None and snapshot.summary.get(EXPORT_ID) == export_id:
            return snapshot.snapshot_id
    return None


def _data_file(metadata: TableMetadata, file: ExportFile) -> DataFile:
    """The DataFile of an export file, from the footer already read; the file stays where RDS put it."""
    try:
        return data_file(metadata, file.path, file.size, file.footer)
    except ValueError as exc:
        raise ExportRejected("schema-incompatible", f"{file.path} does not fit the table: {exc}") from exc


def _table_properties(export: TableExport) -> dict[str, str]:
    """The source's original types, which staging needs to cast the strings RDS exported."""
    props = {
        f"{ORIGINAL_TYPE}{m.column_name}": m.original_type
        for m in export.status.schema_metadata.original_type_mappings
    }
    props["rds.source-table"] = export.status.target
    return props


def _begin(
    catalog: Catalog, export: TableExport, info: ExportInfo
) -> tuple[Transaction, list[DataFile]] | StagedTable:
    """A transaction on the existing table (schema evolved) or a create-table transaction."""
    try:
        table = catalog.load_table(export.identifier)
    except NoSuchTableError:
        return catalog.create_table_transaction(export.identifier, schema=export.arrow_schema), []
    registered = snapshot_of_export(table, info.export_id)
    if registered is not None:
        return StagedTable(
            export.identifier, None, registered, export.record_count, len(export.files), "already-registered"
        )
    current = table.current_snapshot()
    current_time = current.summary.get(SNAPSHOT_TIME) if current and current.summary else None
    if current and current_time and datetime.fromisoformat(current_time) > info.snapshot_time:
        return StagedTable(export.identifier, None, current.snapshot_id, 0, 0, "stale")
    tx: Transaction = table.transaction()
    try:
        tx.update_schema().union_by_name(export.arrow_schema).commit()
    except ValueError as exc:
        raise ExportRejected(
            "schema-incompatible", f"{export.identifier} cannot evolve to the export's schema: {exc}"
        ) from exc
    existing = [task.file for task in table.scan().plan_files()]
    return tx, existing


def stage_table(catalog: Catalog, export: TableExport, info: ExportInfo) -> StagedTable:
    begun = _begin(catalog, export, info)
    if isinstance(begun, StagedTable):
        return begun
    tx, existing = begun
    properties = _table_properties(export)
    if tx.table_metadata.name_mapping() is None:
        # RDS's files carry no field ids: Iceberg reads them by name.
        properties[TableProperties.DEFAULT_NAME_MAPPING] = (
            tx.table_metadata.schema().name_mapping.model_dump_json()
        )
    tx.set_properties(properties)
    data_files = [_data_file(tx.table_metadata, f) for f in export.files]
    summary = {
        EXPORT_ID: info.export_id,
        RUN_ID: info.export_id,
        SNAPSHOT_TIME: info.snapshot_time.isoformat(),
        SOURCE_ARN: info.source_arn,
    }
    with tx.update_snapshot(snapshot_properties=summary).overwrite() as overwrite:
        for old in existing:
            overwrite.delete_data_file(old)
        for new in data_files:
            overwrite.append_data_file(new)
    snapshot = tx.table_metadata.current_snapshot()
    assert snapshot is not None
    tags = ManageSnapshots(tx)
    if export_tag(info) in tx.table_metadata.refs:
        tags = tags.remove_tag(export_tag(info))
    tags.create_tag(snapshot.snapshot_id, export_tag(info)).commit()
    return StagedTable(
        export.identifier, tx, snapshot.snapshot_id, export.record_count, len(export.files), "registered"
    )


def stage_tables(catalog: Catalog, exports: list[TableExport], info: ExportInfo) -> list[StagedTable]:
    """Stage every table, in parallel: each one's work is a few round trips to S3 and Glue."""
    with ThreadPoolExecutor(PARALLEL_TABLES) as pool:
        return list(pool.map(lambda export: stage_table(catalog, export, info), exports))


def commit_staged(staged: list[StagedTable]) -> None:
    """Commit the staged tables, in parallel; a failure leaves the others committed, and a retry of
    the export converges, since committed tables are recognised by their snapshot summary."""
    pending = [table.transaction for table in staged if table.transaction is not None]
    with ThreadPoolExecutor(PARALLEL_TABLES) as pool:
        list(pool.map(lambda tx: tx.commit_transaction(), pending))
