"""What changed in an Iceberg table since the snapshot the warehouse loaded last.

A snapshot's content is a set of data files, each with the delete files that apply to it. Between the
watermark and the head, the files (with their deletes) present only at the head hold the new and
changed rows; those present only at the watermark held the rows that were replaced or deleted. Keys
seen only in the latter are deletes. Without a watermark, or when its snapshot has expired, the
increment is the whole table, to replace the target.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pyiceberg.table import FileScanTask, Table


@dataclass(frozen=True)
class Increment:
    head: int
    upserts: pa.Table
    deleted_keys: pa.Table
    replace: bool  # the upserts are the whole table: the target is replaced


def _tasks(table: Table, snapshot_id: int) -> dict[tuple[str, tuple[str, ...]], FileScanTask]:
    tasks = table.scan(snapshot_id=snapshot_id).plan_files()
    return {(t.file.file_path, tuple(sorted(d.file_path for d in t.delete_files))): t for t in tasks}


def _read(table: Table, snapshot_id: int, tasks: Iterable[FileScanTask]) -> pa.Table:
    from pyiceberg.io.pyarrow import ArrowScan

    scan = table.scan(snapshot_id=snapshot_id)
    return ArrowScan(scan.table_metadata, scan.io, scan.projection(), scan.row_filter).to_table(list(tasks))


def read_increment(table: Table, since: int | None, keys: Sequence[str]) -> Increment | None:
    """The changes after `since` up to the head; None when the table has no snapshot yet."""
    head = table.current_snapshot()
    if head is None:
        return None
    head_id = head.snapshot_id
    if since is None or table.snapshot_by_id(since) is None:
        rows = table.scan(snapshot_id=head_id).to_arrow()
        return Increment(head_id, rows, rows.select(list(keys)).slice(0, 0), replace=True)
    now, before = _tasks(table, head_id), _tasks(table, since)
    upserts = _read(table, head_id, [t for sig, t in now.items() if sig not in before])
    replaced = _read(table, since, [t for sig, t in before.items() if sig not in now])
    old_keys = replaced.select(list(keys))
    if upserts.num_rows and old_keys.num_rows:
        old_keys = old_keys.join(upserts.select(list(keys)), list(keys), join_type="left anti")
    return Increment(head_id, upserts, old_keys, replace=False)
