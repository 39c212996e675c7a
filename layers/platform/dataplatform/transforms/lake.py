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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataplatform.iceberg.summary import TRANSFORM_RUN, source_snapshot_key
from dataplatform.spark.session import CATALOG

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

MAIN = "main"


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

    # ------------------------------------------------------------------ refs
    def exists(self, table: str) -> bool:
        return bool(self.spark.catalog.tableExists(f"{CATALOG}.{table}"))

    def refs(self, table: str) -> dict[str, int]:
        """Branches and tags of `table` at their snapshots; none for a table that does not exist yet."""
        if not self.exists(table):
            return {}
        rows = self.spark.sql(f"SELECT name, snapshot_id FROM {CATALOG}.{table}.refs").collect()
        return {row["name"]: int(row["snapshot_id"]) for row in rows}

    def head(self, table: str, branch: str | None = None) -> int | None:
        """The snapshot at the tip of `branch` (this run's, by default), else of main."""
        refs = self.refs(table)
        return refs.get(branch or self.branch, refs.get(MAIN))

    def open_branch(self, table: str) -> None:
        """This run's branch of `table`, from main (or empty, for a new table)."""
        self.spark.sql(f"ALTER TABLE {CATALOG}.{table} CREATE BRANCH IF NOT EXISTS {self.branch}")

    def publish(self, table: str) -> None:
        """main takes this run's branch; a table published already is left as it is."""
        refs = self.refs(table)
        if self.branch not in refs:
            return
        if refs.get(MAIN) != refs[self.branch]:
            self.spark.sql(f"CALL {CATALOG}.system.fast_forward('{table}', '{MAIN}', '{self.branch}')")
        self.spark.sql(f"ALTER TABLE {CATALOG}.{table} DROP BRANCH IF EXISTS {self.branch}")

    def abandon(self, table: str) -> None:
        """Drop this run's branch; main never saw it."""
        if self.exists(table):
            self.spark.sql(f"ALTER TABLE {CATALOG}.{table} DROP BRANCH IF EXISTS {self.branch}")

    # ------------------------------------------------------------------ reads
    def read(self, table: str, snapshot_id: int | None = None) -> DataFrame:
        """The table on this run's branch (main where the run has not branched it), or at a snapshot."""
        reader = self.spark.read.format("iceberg")
        if snapshot_id is not None:
            reader = reader.option("snapshot-id", str(snapshot_id))
        elif self.branch in self.refs(table):
            reader = reader.option("branch", self.branch)
        return reader.load(f"{CATALOG}.{table}")

    def processed(self, target: str, source: str) -> int | None:
        """The snapshot of `source` that `target` (on this run's branch) has processed, from the summary
        of the latest ancestor commit that recorded it."""
        head = self.head(target)
        if head is None:
            return None
        key = source_snapshot_key(source)
        recorded = {
            int(r["snapshot_id"]): int(r["processed"])
            for r in self.spark.sql(
                f"SELECT snapshot_id, summary['{key}'] AS processed FROM {CATALOG}.{target}.snapshots "
                f"WHERE summary['{key}'] IS NOT NULL"
            ).collect()
        }
        for snapshot_id in self.ancestors(target, head):  # newest first
            if snapshot_id in recorded:
                return recorded[snapshot_id]
        return None

    def ancestors(self, table: str, snapshot_id: int) -> list[int]:
        """`snapshot_id` and its ancestors, newest first."""
        rows = self.spark.sql(f"CALL {CATALOG}.system.ancestors_of('{table}', {snapshot_id})").collect()
        return [int(r["snapshot_id"]) for r in rows]

    def is_ancestor(self, table: str, snapshot_id: int, of: int) -> bool:
        return snapshot_id in self.ancestors(table, of)

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
            rows = source.count()
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
                **{source_snapshot_key(k): str(v) for k, v in processed.items()},
            }
            self._with_commit_properties(properties, lambda: self.spark.sql(statement))
        finally:
            source.unpersist()
        after = self.head(target)
        return Commit(target, after, rows, self._bytes_written(target, before, after))

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

    def age_hours(self, table: str) -> float | None:
        """How long ago the head of `table` (on this run's branch, else main) was committed."""
        head = self.head(table)
        if head is None:
            return None
        rows = self.spark.sql(
            f"SELECT (unix_millis(current_timestamp()) - unix_millis(committed_at)) / 3600000.0 AS hours "
            f"FROM {CATALOG}.{table}.snapshots WHERE snapshot_id = {head}"
        ).collect()
        return float(rows[0]["hours"]) if rows else None

    def append(self, table: str, rows: DataFrame) -> None:
        """Append to main directly (for records that must outlive a failed run, like quarantine)."""
        if self.exists(table):
            rows.writeTo(f"{CATALOG}.{table}").append()
        else:
            rows.writeTo(f"{CATALOG}.{table}").using("iceberg").tableProperty("format-version", "2").create()

    def summary(self, table: str, snapshot_id: int) -> dict[str, str]:
        rows = self.spark.sql(
            f"SELECT summary FROM {CATALOG}.{table}.snapshots WHERE snapshot_id = {snapshot_id}"
        ).collect()
        return dict(rows[0]["summary"]) if rows else {}

    def _bytes_written(self, table: str, before: int | None, after: int | None) -> int:
        if after is None or after == before:
            return 0
        return int(self.summary(table, after).get("added-files-size", 0))
