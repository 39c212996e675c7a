"""The transforms' reads and writes on the Iceberg catalog, in one Spark session.

Write-audit-publish: a run writes every table on a branch of its own (`run_<id>`); quality gates read
the branch; only `publish` fast-forwards each table's main to it. Until then readers of main (Trino,
Athena, the warehouse loader) see nothing of the run, so a failed gate leaves every published table as
it was, and a rerun or a redrive continues on the same branch.

Each MERGE records in its snapshot summary the source snapshots it processed (`dp.processed.<table>`),
committed atomically with the data through Iceberg's CommitMetadata, so the next run reads only what
came after: an incremental append scan for append-only sources, Iceberg's changelog for the rest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataplatform.iceberg.summary import DELETED_ROWS, ROWS_CHANGED, TRANSFORM_RUN, source_snapshot_key
from dataplatform.spark.session import CATALOG
from dataplatform.transforms.staging import DELETE, OP

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

MAIN = "main"
COPY_ON_WRITE = {"format-version": "2"}
# A MERGE that changes 1% of a table writes those rows and position deletes, instead of rewriting every
# file one of them sits in (with changes spread over the keys, every file). Iceberg 1.10's changelog
# scan refuses delete files, so a table read through `changes_since` stays copy-on-write.
MERGE_ON_READ = {
    **COPY_ON_WRITE,
    "write.merge.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.delete.mode": "merge-on-read",
}


@dataclass(frozen=True)
class Commit:
    """What one MERGE did to a table: its snapshot, rows merged (the changes it applied) and bytes
    written."""

    table: str
    snapshot_id: int | None
    rows_changed: int
    bytes_written: int


class _Callable:
    """A java.util.concurrent.Callable that runs a Python function: Spark's pinned py4j threads run it
    on the JVM thread that set CommitMetadata's thread-local properties."""

    def __init__(self, run: Callable[[], object]) -> None:
        self._run = run

    def call(self) -> int:
        self._run()
        return 0

    class Java:
        implements = ("java.util.concurrent.Callable",)


def branch_name(run_id: str) -> str:
    return "run_" + re.sub(r"[^A-Za-z0-9_]", "_", run_id)


class Lake:
    def __init__(self, spark: SparkSession, run_id: str) -> None:
        self.spark = spark
        self.run_id = run_id
        self.branch = branch_name(run_id)
        self._known: set[str] = set()
        # Each table's metadata as this Lake last loaded it, until this Lake writes to the table: a
        # step holds the run's lock, so nobody else moves its branches, and a source it reads is pinned
        # to the snapshot it saw first. Loading took a Glue call and a metadata file per question.
        self._loaded: dict[str, Any] = {}
        self._refs: dict[str, dict[str, int]] = {}

    # ------------------------------------------------------------------ metadata
    def _table(self, table: str) -> Any | None:
        """The Iceberg table as the JVM's `org.apache.iceberg.Table`, loaded once until this Lake writes
        to it; None if it does not exist. Metadata comes from the table's metadata file in memory, where
        a query of `.refs` or `.snapshots` would plan and run a Spark job (a third of a run's time,
        before this)."""
        if table in self._loaded:
            return self._loaded[table]
        jvm = self.spark.sparkContext._jvm
        assert jvm is not None, "table metadata needs a classic (JVM) Spark session"
        if table not in self._known and not self.exists(table):
            return None
        loaded = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(
            self.spark._jsparkSession, f"{CATALOG}.{table}"
        )
        self._loaded[table] = loaded
        return loaded

    def _wrote(self, table: str) -> None:
        """This Lake changed `table`: its metadata is loaded again when next asked for."""
        self._loaded.pop(table, None)
        self._refs.pop(table, None)

    def _write_sql(self, table: str, statement: str) -> None:
        """Run a statement that changes `table` (DDL, MERGE, a call), then forget its metadata."""
        try:
            self.spark.sql(statement)
        finally:
            self._wrote(table)

    def exists(self, table: str) -> bool:
        """Whether `table` exists; a table seen once is not asked for again (a run never drops one)."""
        if table not in self._known and self.spark.catalog.tableExists(f"{CATALOG}.{table}"):
            self._known.add(table)
        return table in self._known

    def refs(self, table: str) -> dict[str, int]:
        """Branches and tags of `table` at their snapshots; none for a table that does not exist yet."""
        if table not in self._refs:
            loaded = self._table(table)
            if loaded is None:
                return {}
            refs = loaded.refs().entrySet()
            self._refs[table] = {entry.getKey(): int(entry.getValue().snapshotId()) for entry in refs}
        return dict(self._refs[table])

    def head(self, table: str, branch: str | None = None) -> int | None:
        """The snapshot at the tip of `branch` (this run's, by default), else of main."""
        refs = self.refs(table)
        return refs.get(branch or self.branch, refs.get(MAIN))

    def open_branch(self, table: str) -> None:
        """This run's branch of `table`, from main (or empty, for a new table)."""
        if self.branch not in self.refs(table):
            self._write_sql(table, f"ALTER TABLE {CATALOG}.{table} CREATE BRANCH IF NOT EXISTS {self.branch}")

    def publish(self, table: str) -> None:
        """main takes this run's branch; a table published already is left as it is."""
        refs = self.refs(table)
        if self.branch not in refs:
            return
        if refs.get(MAIN) != refs[self.branch]:
            self._write_sql(
                table, f"CALL {CATALOG}.system.fast_forward('{table}', '{MAIN}', '{self.branch}')"
            )
        self._write_sql(table, f"ALTER TABLE {CATALOG}.{table} DROP BRANCH IF EXISTS {self.branch}")

    def abandon(self, table: str) -> None:
        """Drop this run's branch; main never saw it."""
        if self.exists(table):
            self._write_sql(table, f"ALTER TABLE {CATALOG}.{table} DROP BRANCH IF EXISTS {self.branch}")

    def _snapshots(self, table: str, snapshot_id: int) -> Iterator[Any]:
        """`snapshot_id` and its ancestors, newest first, as JVM `Snapshot`s (expired ones end it)."""
        loaded = self._table(table)
        if loaded is None:
            return
        snapshot = loaded.snapshot(snapshot_id)
        while snapshot is not None:
            yield snapshot
            parent = snapshot.parentId()
            snapshot = loaded.snapshot(parent) if parent is not None else None

    def ancestors(self, table: str, snapshot_id: int) -> list[int]:
        """`snapshot_id` and its ancestors, newest first."""
        return [int(s.snapshotId()) for s in self._snapshots(table, snapshot_id)]

    def is_ancestor(self, table: str, snapshot_id: int, of: int) -> bool:
        return snapshot_id in self.ancestors(table, of)

    def properties(self, table: str) -> dict[str, str]:
        loaded = self._table(table)
        return dict(loaded.properties()) if loaded is not None else {}

    def summary(self, table: str, snapshot_id: int) -> dict[str, str]:
        return next((dict(s.summary()) for s in self._snapshots(table, snapshot_id)), {})

    def run_commits(self, table: str) -> list[dict[str, str]]:
        """The snapshot summaries of this run's commits to `table`, newest first: the tip of its branch
        (of main, once published) and the ancestors below it that this run wrote."""
        head = self.head(table)
        if head is None:
            return []
        commits: list[dict[str, str]] = []
        for snapshot in self._snapshots(table, head):
            summary = dict(snapshot.summary())
            if summary.get(TRANSFORM_RUN) != self.run_id:
                break
            commits.append(summary)
        return commits

    def processed(self, target: str, source: str) -> int | None:
        """The snapshot of `source` that `target` (on this run's branch) has processed, from the summary
        of the latest ancestor commit that recorded it."""
        head = self.head(target)
        if head is None:
            return None
        key = source_snapshot_key(source)
        for snapshot in self._snapshots(target, head):
            recorded = snapshot.summary().get(key)
            if recorded is not None:
                return int(recorded)
        return None

    def age_hours(self, table: str) -> float | None:
        """How long ago the head of `table` (on this run's branch, else main) was committed."""
        head = self.head(table)
        committed = (
            next((int(s.timestampMillis()) for s in self._snapshots(table, head)), None) if head else None
        )
        return None if committed is None else (time.time() * 1000 - committed) / 3_600_000

    # ------------------------------------------------------------------ reads
    def read(self, table: str, snapshot_id: int | None = None) -> DataFrame:
        """The table on this run's branch (main where the run has not branched it), or at a snapshot."""
        reader = self.spark.read.format("iceberg")
        if snapshot_id is not None:
            reader = reader.option("snapshot-id", str(snapshot_id))
        elif self.branch in self.refs(table):
            reader = reader.option("branch", self.branch)
        return reader.load(f"{CATALOG}.{table}")

    def appended_since(self, table: str, after: int | None, until: int) -> DataFrame:
        """Rows appended to an append-only table after snapshot `after` up to `until`; all of it at
        `until` when `after` is None or no longer an ancestor (expired, or a full refresh)."""
        if after is None or after == until or not self.is_ancestor(table, after, until):
            return self.read(table, until) if after != until else self.read(table, until).limit(0)
        return (
            self.spark.read.format("iceberg")
            .option("start-snapshot-id", str(after))
            .option("end-snapshot-id", str(until))
            .load(f"{CATALOG}.{table}")
        )

    def changes_since(self, table: str, after: int, until: int, keys: Sequence[str]) -> DataFrame:
        """Iceberg's changelog of `table` between two snapshots, updates as pre/post images, rows that
        were only rewritten removed: `_change_type` INSERT, DELETE, UPDATE_BEFORE or UPDATE_AFTER."""
        view = f"changes_{re.sub(r'[^A-Za-z0-9_]', '_', table)}"
        identifiers = ", ".join(f"'{k}'" for k in keys)
        self.spark.sql(
            f"CALL {CATALOG}.system.create_changelog_view(table => '{table}', "
            f"options => map('start-snapshot-id', '{after}', 'end-snapshot-id', '{until}'), "
            f"identifier_columns => array({identifiers}), changelog_view => '{view}')"
        )
        return self.spark.table(view)

    # ------------------------------------------------------------------ writes
    def merge(
        self,
        target: str,
        source: DataFrame,
        merge_sql: str,
        processed: Mapping[str, int],
        extra: Mapping[str, str] | None = None,
    ) -> Commit:
        """MERGE `source` (as view `source`) into this run's branch of `target`, recording `processed`
        source snapshots and the run id in the same commit. `merge_sql` names the target `{target}`.
        With nothing to merge, an empty commit still records what was processed, so the next run does
        not read it again."""
        self.open_branch(target)
        before = self.head(target)
        source = source.cache()
        try:
            counts = self._counts_by_op(source)
            rows = sum(counts.values())
            source.createOrReplaceTempView("source")
            branch = f"{CATALOG}.{target}.branch_{self.branch}"
            statement = (
                merge_sql.format(target=branch)
                if rows
                else f"INSERT INTO {branch} SELECT * FROM {branch} WHERE false"
            )
            properties = {
                **(extra or {}),
                TRANSFORM_RUN: self.run_id,
                DELETED_ROWS: str(counts.get(DELETE, 0)),
                ROWS_CHANGED: str(rows),
                **{source_snapshot_key(k): str(v) for k, v in processed.items()},
            }
            self._with_commit_properties(properties, lambda: self._write_sql(target, statement))
        finally:
            source.unpersist()
        after = self.head(target)
        return Commit(target, after, rows, self._bytes_written(target, before, after))

    @staticmethod
    def _counts_by_op(source: DataFrame) -> dict[str, int]:
        """Rows of the (cached) merge source by `_op`, in one pass; all upserts without the column."""
        if OP not in source.columns:
            return {"U": source.count()}
        return {row[OP]: int(row["count"]) for row in source.groupBy(OP).count().collect()}

    def _with_commit_properties(self, properties: Mapping[str, str], run: Callable[[], Any]) -> None:
        jvm = self.spark.sparkContext._jvm
        assert jvm is not None, "commit properties need a classic (JVM) Spark session"
        java_properties = jvm.java.util.HashMap()
        for key, value in properties.items():
            java_properties.put(key, value)
        failure = jvm.java.lang.Class.forName("java.lang.RuntimeException")
        jvm.org.apache.iceberg.spark.CommitMetadata.withCommitProperties(
            java_properties, _Callable(run), failure
        )

    def create(self, table: str, like: DataFrame, properties: Mapping[str, str] = MERGE_ON_READ) -> None:
        """`table` with the columns of `like` (and no rows), unless it exists."""
        if not self.exists(table):
            writer = like.limit(0).writeTo(f"{CATALOG}.{table}").using("iceberg")
            for key, value in properties.items():
                writer = writer.tableProperty(key, value)
            writer.create()
            self._wrote(table)

    def deleted_between(self, table: str, after: int, until: int) -> bool:
        """Whether any commit after snapshot `after` up to `until` may have deleted rows: yes when one
        recorded deletes, or recorded nothing (not a transform MERGE), or `after` is not an ancestor."""
        for snapshot in self._snapshots(table, until):
            if int(snapshot.snapshotId()) == after:
                return False
            if snapshot.summary().get(DELETED_ROWS, "unknown") != "0":
                return True
        return True

    def append(self, table: str, rows: DataFrame) -> None:
        """Append to main directly (for records that must outlive a failed run, like quarantine)."""
        if self.exists(table):
            rows.writeTo(f"{CATALOG}.{table}").append()
        else:
            rows.writeTo(f"{CATALOG}.{table}").using("iceberg").tableProperty("format-version", "2").create()
        self._wrote(table)

    def _bytes_written(self, table: str, before: int | None, after: int | None) -> int:
        if after is None or after == before:
            return 0
        return int(self.summary(table, after).get("added-files-size", 0))
