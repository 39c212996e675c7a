"""The model and aggregate steps: analytics tables from staging on the run's branch, incrementally.

A target reads only the staging changes since the snapshots it last processed (Iceberg's changelog);
dimensions without history and aggregates are recomputed whole when a source changed, and merged, so
only rows that differ are written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataplatform.iceberg.summary import SNAPSHOT_TIME
from dataplatform.spark.session import CATALOG
from dataplatform.transforms import aggregates, model, quality
from dataplatform.transforms.contract import CONTRACT, create_table_sql
from dataplatform.transforms.entities import STAGING
from dataplatform.transforms.lake import MERGE_ON_READ, Lake
from dataplatform.transforms.report import TableReport
from dataplatform.transforms.staging import DELETE, OP, SNAPSHOT_TIME_COLUMN, UPSERT

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

CUSTOMER_ATTRIBUTES = ("name", "nation_name", "region_name", "market_segment", "account_balance")
DATE_RANGE = (date(1992, 1, 1), date(2030, 12, 31))  # TPC-H order dates, and the years the platform runs


@dataclass(frozen=True)
class Inputs:
    """The sources of one target at this run: each one's head snapshot, and what the target processed."""

    heads: dict[str, int]
    processed: dict[str, int | None]

    @property
    def changed(self) -> bool:
        return any(self.processed[s] != h for s, h in self.heads.items())


def _inputs(lake: Lake, target: str, sources: Sequence[str], full_refresh: bool) -> Inputs | None:
    heads = {s: lake.head(s) for s in sources}
    if any(h is None for h in heads.values()):
        return None
    exists = lake.exists(target)
    processed = {s: None if full_refresh or not exists else lake.processed(target, s) for s in sources}
    return Inputs({s: h for s, h in heads.items() if h is not None}, processed)


EXPORT_STAGING = frozenset(e.table for e in STAGING.values() if e.kind == "rds_export")


def changes(lake: Lake, table: str, after: int | None, until: int, keys: Sequence[str]) -> DataFrame:
    """The rows of a staging table that changed after snapshot `after`, with `_op` U or D; every row
    (as U) when the target has processed nothing of it."""
    if after is None:
        return lake.read(table, until).withColumn(OP, F.lit(UPSERT))
    if table in EXPORT_STAGING:
        return _export_changes(lake, table, after, until, keys)
    log = lake.changes_since(table, after, until, keys).where("_change_type != 'UPDATE_BEFORE'")
    op = F.when(F.col("_change_type") == "DELETE", F.lit(DELETE)).otherwise(F.lit(UPSERT))
    return log.withColumn(OP, op).drop("_change_type", "_change_ordinal", "_commit_snapshot_id")


def _export_changes(lake: Lake, table: str, after: int, until: int, keys: Sequence[str]) -> DataFrame:
    """An export's staging table is merge-on-read, which Iceberg's changelog cannot scan. Staging
    stamps every row it writes with its export's snapshot time, so the rows written since `after` are
    those stamped later (the scan skips files by their time bounds); deleted keys are looked for,
    between the two snapshots, only when a commit since recorded deletes."""
    since = lake.summary(table, after).get(SNAPSHOT_TIME)
    current = lake.read(table, until)
    if not since:  # not staged by an export's MERGE: take every row, which the MERGE makes idempotent
        return current.withColumn(OP, F.lit(UPSERT))
    upserts = current.where(F.col(SNAPSHOT_TIME_COLUMN) > F.lit(since).cast("timestamp"))
    upserts = upserts.withColumn(OP, F.lit(UPSERT))
    if not lake.deleted_between(table, after, until):
        return upserts
    gone = lake.read(table, after).join(current.select(*keys), list(keys), "left_anti")
    return upserts.unionByName(gone.withColumn(OP, F.lit(DELETE)))


def _key_condition(keys: Sequence[str]) -> str:
    return " AND ".join(f"t.{k} = s.{k}" for k in keys)


def upsert_sql(keys: Sequence[str], columns: Sequence[str]) -> str:
    """MERGE of changed rows with `_op`: deletes delete, the others update or insert."""
    return (
        "MERGE INTO {target} t USING source s ON " + _key_condition(keys) + " "
        f"WHEN MATCHED AND s.{OP} = '{DELETE}' THEN DELETE "
        f"WHEN MATCHED THEN UPDATE SET {', '.join(f't.{c} = s.{c}' for c in columns)} "
        f"WHEN NOT MATCHED AND s.{OP} = '{UPSERT}' THEN INSERT ({', '.join(columns)}) "
        f"VALUES ({', '.join(f's.{c}' for c in columns)})"
    )


def replace_sql(keys: Sequence[str], columns: Sequence[str]) -> str:
    """MERGE that makes the target equal the source: rows that differ are written, the rest left."""
    differs = " OR ".join(f"NOT (t.{c} <=> s.{c})" for c in columns if c not in keys)
    return (
        "MERGE INTO {target} t USING source s ON " + _key_condition(keys) + " "
        f"WHEN MATCHED AND ({differs or 'false'}) THEN UPDATE SET {', '.join(f't.{c} = s.{c}' for c in columns)} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ({', '.join(f's.{c}' for c in columns)}) "
        "WHEN NOT MATCHED BY SOURCE THEN DELETE"
    )


def _delete_rows(keys: DataFrame, like: DataFrame) -> DataFrame:
    """Rows of `like`'s schema that carry only the keys of rows to delete, and `_op` D."""
    return keys.select(
        *[
            F.col(f.name) if f.name in keys.columns else F.lit(None).cast(f.dataType).alias(f.name)
            for f in like.schema.fields
            if f.name != OP
        ],
        F.lit(DELETE).alias(OP),
    )


QUARANTINE = "staging.transform_quarantine"


def _report(lake: Lake, target: str, rows_read: int, commit_rows: int, commit_bytes: int) -> TableReport:
    """The target's report, once it has passed its quality gate on the run's branch; GateFailed, with
    the failing rows quarantined, if it has not."""
    result = quality.check(target, lake.read(target), lake.read, lake.age_hours)
    if not result.passed:
        rows = quality.quarantine_rows(result, lake.run_id)
        if rows is not None:
            lake.append(QUARANTINE, rows)
        raise quality.GateFailed(result.message())
    return TableReport(target, rows_read, commit_rows, commit_bytes, lake.head(target))


def _replace(
    lake: Lake,
    target: str,
    keys: Sequence[str],
    sources: Sequence[str],
    build: Callable[[], DataFrame],
    full: bool,
) -> TableReport:
    """A target recomputed whole from its sources whenever one changed, merged by `keys`."""
    inputs = _inputs(lake, target, sources, full)
    if inputs is None:
        return TableReport(target, skipped="a source has no data yet")
    if not inputs.changed:
        return TableReport(target, skipped="sources unchanged")
    rows = build()
    lake.create(target, rows)
    commit = lake.merge(target, rows, replace_sql(keys, rows.columns), inputs.heads)
    return _report(lake, target, commit.rows_changed, commit.rows_changed, commit.bytes_written)


# ------------------------------------------------------------------ dimensions
def dim_customer(lake: Lake, full: bool = False) -> TableReport:
    """SCD2 over successive exports: a changed customer's version is closed at the export's snapshot
    time and a new one opened; nation and region names come from staging."""
    target, sources = "analytics.dim_customer", ("staging.customer", "staging.nation", "staging.region")
    inputs = _inputs(lake, target, sources, full)
    if inputs is None:
        return TableReport(target, skipped="a source has no data yet")
    if not inputs.changed:
        return TableReport(target, skipped="sources unchanged")
    hash_column = T.StructType([T.StructField(model.ATTRIBUTES_HASH, T.StringType())])
    lake.spark.sql(create_table_sql(f"{CATALOG}.{target}", "dim_customer", hash_column, MERGE_ON_READ))
    geography_changed = any(inputs.processed[s] != inputs.heads[s] for s in sources[1:])
    after = None if geography_changed else inputs.processed["staging.customer"]
    customer = changes(lake, "staging.customer", after, inputs.heads["staging.customer"], ("c_custkey",))
    rows = model.customer_rows(customer, lake.read("staging.nation"), lake.read("staging.region"))
    valid_from = lake.summary("staging.customer", inputs.heads["staging.customer"]).get(SNAPSHOT_TIME)
    current = lake.read(target).where("is_current")
    source = model.scd2_merge_source(
        rows, current, "customer_key", CUSTOMER_ATTRIBUTES, F.lit(valid_from).cast("timestamp")
    )
    commit = lake.merge(
        target,
        source,
        model.scd2_merge_sql("{target}", "source", "customer_key", CUSTOMER_ATTRIBUTES),
        inputs.heads,
    )
    return _report(lake, target, commit.rows_changed, commit.rows_changed, commit.bytes_written)


def dim_supplier(lake: Lake, full: bool = False) -> TableReport:
    return _replace(
        lake,
        "analytics.dim_supplier",
        ("supplier_key",),
        ("staging.supplier", "staging.nation", "staging.region"),
        lambda: model.supplier_rows(
            lake.read("staging.supplier"), lake.read("staging.nation"), lake.read("staging.region")
        ),
        full,
    )


def dim_part(lake: Lake, full: bool = False) -> TableReport:
    return _replace(
        lake,
        "analytics.dim_part",
        ("part_key",),
        ("staging.part",),
        lambda: model.part_rows(lake.read("staging.part")),
        full,
    )


def dim_date(lake: Lake, full: bool = False) -> TableReport:
    target = "analytics.dim_date"
    if lake.exists(target) and not full:
        return TableReport(target, skipped="calendar complete")
    rows = model.date_rows(lake.spark, *DATE_RANGE)
    lake.create(target, rows)
    commit = lake.merge(target, rows, replace_sql(("date_key",), rows.columns), {})
    return _report(lake, target, commit.rows_changed, commit.rows_changed, commit.bytes_written)


# ------------------------------------------------------------------ facts
def fact_sales(lake: Lake, full: bool = False) -> TableReport:
    """Order lines that changed, and the lines of orders that changed, merged by (order, line)."""
    target, sources = "analytics.fact_sales", ("staging.lineitem", "staging.orders")
    inputs = _inputs(lake, target, sources, full)
    if inputs is None:
        return TableReport(target, skipped="a source has no data yet")
    if not inputs.changed:
        return TableReport(target, skipped="sources unchanged")
    lake.spark.sql(create_table_sql(f"{CATALOG}.{target}", "fact_sales", properties=MERGE_ON_READ))
    columns = [f.name for f in CONTRACT["fact_sales"].fields]
    lines = changes(
        lake,
        "staging.lineitem",
        inputs.processed["staging.lineitem"],
        inputs.heads["staging.lineitem"],
        ("l_orderkey", "l_linenumber"),
    )
    orders = lake.read("staging.orders")
    if inputs.processed["staging.orders"] is None:
        affected = lines
    else:
        changed_orders = changes(
            lake,
            "staging.orders",
            inputs.processed["staging.orders"],
            inputs.heads["staging.orders"],
            ("o_orderkey",),
        )
        order_lines = (
            lake.read("staging.lineitem")
            .join(
                changed_orders.select(F.col("o_orderkey").alias("l_orderkey")).distinct(),
                "l_orderkey",
                "left_semi",
            )
            .withColumn(OP, F.lit(UPSERT))
        )
        affected = lines.unionByName(
            order_lines.join(
                lines.select("l_orderkey", "l_linenumber"), ["l_orderkey", "l_linenumber"], "left_anti"
            )
        )
    upserts = model.sales_rows(affected.where(F.col(OP) == UPSERT), orders).withColumn(OP, F.lit(UPSERT))
    deletes = affected.where(F.col(OP) == DELETE).select(
        F.col("l_orderkey").alias("order_key"), F.col("l_linenumber").alias("line_number")
    )
    source = upserts.unionByName(_delete_rows(deletes, upserts))
    commit = lake.merge(target, source, upsert_sql(("order_key", "line_number"), columns), inputs.heads)
    return _report(lake, target, commit.rows_changed, commit.rows_changed, commit.bytes_written)


def _incremental_fact(
    lake: Lake,
    target: str,
    source: str,
    keys: Sequence[str],
    source_keys: Sequence[str],
    rows: Callable[[DataFrame], DataFrame],
    full: bool,
) -> TableReport:
    inputs = _inputs(lake, target, (source,), full)
    if inputs is None:
        return TableReport(target, skipped="a source has no data yet")
    if not inputs.changed:
        return TableReport(target, skipped="sources unchanged")
    changed = changes(lake, source, inputs.processed[source], inputs.heads[source], source_keys)
    built = rows(changed.where(F.col(OP) == UPSERT)).withColumn(OP, F.lit(UPSERT))
    lake.create(target, built.drop(OP))
    commit = lake.merge(target, built, upsert_sql(keys, [c for c in built.columns if c != OP]), inputs.heads)
    return _report(lake, target, commit.rows_changed, commit.rows_changed, commit.bytes_written)


def fact_web_events(lake: Lake, full: bool = False) -> TableReport:
    return _incremental_fact(
        lake,
        "analytics.fact_web_events",
        "staging.web_events",
        ("event_id",),
        ("event_id",),
        model.web_event_rows,
        full,
    )


def fact_reviews(lake: Lake, full: bool = False) -> TableReport:
    return _incremental_fact(
        lake,
        "analytics.fact_reviews",
        "staging.reviews",
        ("review_id",),
        ("review_id",),
        model.review_rows,
        full,
    )


# ------------------------------------------------------------------ aggregates
def agg_revenue_by_nation_month(lake: Lake, full: bool = False) -> TableReport:
    return _replace(
        lake,
        "analytics.agg_revenue_by_nation_month",
        ("nation_name", "order_month"),
        ("analytics.fact_sales", "analytics.dim_customer"),
        lambda: aggregates.revenue_by_nation_month(
            lake.read("analytics.fact_sales"), lake.read("analytics.dim_customer")
        ),
        full,
    )


def agg_daily_funnel(lake: Lake, full: bool = False) -> TableReport:
    return _replace(
        lake,
        "analytics.agg_daily_funnel",
        ("event_date",),
        ("analytics.fact_web_events",),
        lambda: aggregates.daily_funnel(lake.read("analytics.fact_web_events")),
        full,
    )


def agg_part_ratings(lake: Lake, full: bool = False) -> TableReport:
    return _replace(
        lake,
        "analytics.agg_part_ratings",
        ("part_key",),
        ("analytics.fact_reviews",),
        lambda: aggregates.part_ratings(lake.read("analytics.fact_reviews")),
        full,
    )


MODEL: dict[str, Callable[[Lake, bool], TableReport]] = {
    "dim_customer": dim_customer,
    "dim_supplier": dim_supplier,
    "dim_part": dim_part,
    "dim_date": dim_date,
    "fact_sales": fact_sales,
    "fact_web_events": fact_web_events,
    "fact_reviews": fact_reviews,
}
AGGREGATES: dict[str, Callable[[Lake, bool], TableReport]] = {
    "agg_revenue_by_nation_month": agg_revenue_by_nation_month,
    "agg_daily_funnel": agg_daily_funnel,
    "agg_part_ratings": agg_part_ratings,
}
