"""Raw to staging: typed, de-duplicated current state per entity, as pure DataFrame functions.

- RDS exports arrive as full snapshots with NUMERIC and DATE as strings; `cast_to_original_types`
  restores the PostgreSQL types kept on the raw table (`rds.original-type.<column>`), `with_row_hash`
  fingerprints each row, and `changed_rows` keeps only what differs from staging (new or changed keys,
  and keys the export no longer has, as deletes), so everything downstream touches ~1% of an export.
- API records keep their latest version per key (`latest_by_key`).
- Stream events are de-duplicated by their id (`first_by_key`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

ROW_HASH, OP = "_row_hash", "_op"
# When an export staged the row as it is now: what a reader of the staging changes filters on.
SNAPSHOT_TIME_COLUMN = "_snapshot_time"
UPSERT, DELETE = "U", "D"

_NUMERIC = re.compile(r"^(?:numeric|decimal)\((\d+),\s*(\d+)\)$")
_SIMPLE_TYPES: dict[str, T.DataType] = {
    "bigint": T.LongType(),
    "int8": T.LongType(),
    "integer": T.IntegerType(),
    "int4": T.IntegerType(),
    "smallint": T.ShortType(),
    "date": T.DateType(),
    "timestamp": T.TimestampNTZType(),
    "timestamp without time zone": T.TimestampNTZType(),
    "timestamp with time zone": T.TimestampType(),
    "boolean": T.BooleanType(),
    "double precision": T.DoubleType(),
    "real": T.FloatType(),
}


def spark_type(original: str) -> T.DataType:
    """The Spark type of a PostgreSQL type as RDS names it; text types (and unknown ones) stay strings."""
    original = original.strip().lower()
    numeric = _NUMERIC.match(original)
    if numeric:
        return T.DecimalType(int(numeric.group(1)), int(numeric.group(2)))
    return _SIMPLE_TYPES.get(original, T.StringType())


def cast_to_original_types(df: DataFrame, original_types: Mapping[str, str]) -> DataFrame:
    """Each column cast to its original PostgreSQL type; a value that does not parse becomes null (the
    quality gates catch nulls where they matter)."""
    return df.select(
        *[
            F.col(name).cast(spark_type(original_types[name])).alias(name)
            if name in original_types
            else F.col(name)
            for name in df.columns
        ]
    )


def row_hash(columns: Sequence[str]) -> Column:
    """A fingerprint of the columns' values: null and empty text differ, and so do column boundaries."""
    parts = [F.coalesce(F.col(c).cast("string"), F.lit("\u0000")) for c in sorted(columns)]
    return F.sha2(F.concat_ws("\u0001", *parts), 256)


def with_row_hash(df: DataFrame, keys: Sequence[str]) -> DataFrame:
    return df.withColumn(ROW_HASH, row_hash([c for c in df.columns if c not in keys]))


def changed_rows(snapshot: DataFrame, current: DataFrame, keys: Sequence[str]) -> DataFrame:
    """What a full snapshot changes in staging: rows whose key is new or whose hash differs (`_op` U),
    and keys staging holds that the snapshot lacks (`_op` D, their other columns from staging).
    `snapshot` and `current` both carry `_row_hash`."""
    known = current.select(*keys, F.col(ROW_HASH).alias("_current_hash"))
    upserts = (
        snapshot.join(known, list(keys), "left")
        .where(F.col("_current_hash").isNull() | (F.col("_current_hash") != F.col(ROW_HASH)))
        .drop("_current_hash")
        .withColumn(OP, F.lit(UPSERT))
    )
    deletes = (
        current.join(snapshot.select(*keys), list(keys), "left_anti")
        .select(*snapshot.columns)
        .withColumn(OP, F.lit(DELETE))
    )
    return upserts.unionByName(deletes)


def latest_by_key(df: DataFrame, keys: Sequence[str], order: Sequence[str]) -> DataFrame:
    """One row per key: the greatest by `order` (later versions win; ties go to the later column)."""
    window = Window.partitionBy(*keys).orderBy(*[F.col(c).desc_nulls_last() for c in order])
    return df.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")


def first_by_key(df: DataFrame, keys: Sequence[str], order: Sequence[str]) -> DataFrame:
    """One row per key: the earliest by `order` (a redelivered event keeps its first landing)."""
    window = Window.partitionBy(*keys).orderBy(*[F.col(c).asc_nulls_last() for c in order])
    return df.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")
