"""Table maintenance run on a Spark session: each step of the policy, committed and counted per table."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from dataplatform.iceberg.summary import STREAM_ID
from dataplatform.maintenance.policy import (
    MaintenanceError,
    MaintenancePolicy,
    TableReport,
    error_text,
    expire_snapshots_sql,
    first_line,
    match_tables,
    qualified,
    retain_last_protecting_streams,
    retry_on_conflict,
    rewrite_data_files_sql,
    rewrite_manifests_sql,
    split_pattern,
)
from dataplatform.spark.session import CATALOG

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

T = TypeVar("T")


def _one(spark: SparkSession, sql: str) -> Any:
    return spark.sql(sql).collect()[0][0]


def _counts(spark: SparkSession, table: str) -> tuple[int, int, int]:
    """(data files, manifests) of the current snapshot, and snapshots of the table."""
    name = qualified(table)
    return (
        int(_one(spark, f"SELECT count(*) FROM {name}.data_files")),
        int(_one(spark, f"SELECT count(*) FROM {name}.manifests")),
        int(_one(spark, f"SELECT count(*) FROM {name}.snapshots")),
    )


def _stream_safe_retain_last(spark: SparkSession, table: str, retain_last: int) -> int:
    name = qualified(table)
    refs = spark.sql(f"SELECT snapshot_id FROM {name}.refs WHERE name = 'main'").collect()
    rows = spark.sql(f"SELECT snapshot_id, parent_id, summary['{STREAM_ID}'] FROM {name}.snapshots").collect()
    current = int(refs[0][0]) if refs else None
    return retain_last_protecting_streams(current, ((r[0], r[1], r[2]) for r in rows), retain_last)


def _remove_orphans(spark: SparkSession, table: str, older_than: datetime) -> int:
    """DeleteOrphanFiles through the JVM, listing with the table's FileIO; returns the files removed."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "orphan removal needs a classic (JVM) Spark session, not Spark Connect"
    jsession = spark._jsparkSession
    iceberg_table = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(jsession, qualified(table))
    result = (
        jvm.org.apache.iceberg.spark.actions.SparkActions.get(jsession)
        .deleteOrphanFiles(iceberg_table)
        .olderThan(int(older_than.timestamp() * 1000))
        .usePrefixListing(True)
        .execute()
    )
    removed = [str(path) for path in result.orphanFileLocations()]
    for path in removed[:20]:
        log.info("%s: removed orphan %s", table, path)
    return len(removed)


def maintain_table(
    spark: SparkSession,
    table: str,
    policy: MaintenancePolicy,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> TableReport:
    """Compact, rewrite manifests, expire snapshots and remove orphans of `table` (`raw.events__x`)."""
    started = time.monotonic()
    report = TableReport(table=table)

    def step(name: str, run: Callable[[], T]) -> T:
        try:
            result, retries = retry_on_conflict(table, name, run, policy)
        except MaintenanceError as exc:
            report.ok, report.error, report.seconds = False, str(exc), round(time.monotonic() - started, 3)
            exc.report = report
            raise
        report.conflict_retries += retries
        return result

    report.data_files_before, report.manifests_before, report.snapshots_before = step(
        "count", lambda: _counts(spark, table)
    )

    rewrite = step("rewrite_data_files", lambda: spark.sql(rewrite_data_files_sql(table, policy)).collect())
    if rewrite:
        row = rewrite[0].asDict()
        report.rewritten_data_files = int(row.get("rewritten_data_files_count") or 0)
        report.added_data_files = int(row.get("added_data_files_count") or 0)
        report.failed_data_files = int(row.get("failed_data_files_count") or 0)

    manifests = int(
        step("count manifests", lambda: _one(spark, f"SELECT count(*) FROM {qualified(table)}.manifests"))
    )
    if manifests > policy.rewrite_manifests_above:
        counts = step("rewrite_manifests", lambda: spark.sql(rewrite_manifests_sql(table)).collect()[0])
        report.rewritten_manifests = int(counts["rewritten_manifests_count"] or 0)
        report.added_manifests = int(counts["added_manifests_count"] or 0)
    else:
        report.skipped.append(
            f"rewrite_manifests: {manifests} manifests, threshold {policy.rewrite_manifests_above}"
        )

    def expire() -> Any:
        report.retain_last = _stream_safe_retain_last(spark, table, policy.retain_last)
        sql = expire_snapshots_sql(table, now() - policy.expire_older_than, report.retain_last)
        return spark.sql(sql).collect()[0].asDict()

    expired = step("expire_snapshots", expire)
    report.expired_files_deleted = sum(int(v or 0) for k, v in expired.items() if k.startswith("deleted_"))

    report.orphans_removed = step(
        "remove_orphan_files", lambda: _remove_orphans(spark, table, now() - policy.orphan_older_than)
    )

    report.data_files_after, report.manifests_after, report.snapshots_after = step(
        "count", lambda: _counts(spark, table)
    )
    report.seconds = round(time.monotonic() - started, 3)
    return report


def list_tables(spark: SparkSession, patterns: Sequence[str]) -> list[str]:
    """Tables of the patterns' namespaces whose names match, e.g. `raw.events__*`."""
    tables: list[str] = []
    for namespace in sorted({split_pattern(p)[0] for p in patterns}):
        names = [row["tableName"] for row in spark.sql(f"SHOW TABLES IN {CATALOG}.{namespace}").collect()]
        tables.extend(match_tables(namespace, names, patterns))
    return tables


def maintain_tables(
    spark: SparkSession, patterns: Sequence[str], policy: MaintenancePolicy
) -> list[TableReport]:
    """Maintain every matching table; a table that fails gets a report with `ok=False` and the others
    still run."""
    reports = []
    for table in list_tables(spark, patterns):
        started = time.monotonic()
        try:
            reports.append(maintain_table(spark, table, policy))
        except MaintenanceError as exc:
            log.error("%s", exc)
            reports.append(exc.report or TableReport(table=table, ok=False, error=str(exc)))
        except Exception as exc:  # one broken table must not keep the others from maintenance
            log.exception("%s: maintenance failed", table)
            seconds = round(time.monotonic() - started, 3)
            reports.append(
                TableReport(table=table, ok=False, seconds=seconds, error=first_line(error_text(exc)))
            )
    return reports
