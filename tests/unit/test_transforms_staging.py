"""Raw -> staging as pure DataFrame functions, on small frames with null rows (chispa)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from dataplatform.transforms.staging import (
    OP,
    ROW_HASH,
    cast_to_original_types,
    changed_rows,
    first_by_key,
    latest_by_key,
    spark_type,
    with_row_hash,
)


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("numeric(15,2)", T.DecimalType(15, 2)),
        ("NUMERIC(18, 4)", T.DecimalType(18, 4)),
        ("date", T.DateType()),
        ("bigint", T.LongType()),
        ("integer", T.IntegerType()),
        ("character varying", T.StringType()),
        ("some future type", T.StringType()),
    ],
)
def test_postgres_types_map_to_spark_types(original: str, expected: T.DataType) -> None:
    assert spark_type(original) == expected


def test_exported_strings_get_their_original_types_back_and_bad_values_become_null(
    spark: SparkSession,
) -> None:
    raw = spark.createDataFrame(
        [(1, "12.50", "2026-11-01", "x"), (2, None, None, None), (3, "not a number", "31/11/2026", "y")],
        "c_custkey bigint, c_acctbal string, c_since string, c_name string",
    )
    typed = cast_to_original_types(
        raw, {"c_acctbal": "numeric(15,2)", "c_since": "date", "c_custkey": "bigint"}
    )
    expected = spark.createDataFrame(
        [
            (1, Decimal("12.50"), date(2026, 11, 1), "x"),
            (2, None, None, None),
            (3, None, None, "y"),
        ],
        "c_custkey bigint, c_acctbal decimal(15,2), c_since date, c_name string",
    )
    assert_df_equality(typed, expected, ignore_row_order=True)


def test_the_row_hash_tells_null_from_empty_and_ignores_the_key(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1, None, "a"), (2, "", "a"), (3, None, "a")], "k int, x string, y string")
    hashes = {r.k: r[ROW_HASH] for r in with_row_hash(df, ["k"]).collect()}
    assert hashes[1] == hashes[3]
    assert hashes[1] != hashes[2]


def test_a_snapshot_passes_on_new_changed_and_deleted_keys_only(spark: SparkSession) -> None:
    schema = "k int, v string"
    current = with_row_hash(spark.createDataFrame([(1, "a"), (2, "b"), (3, None), (4, "d")], schema), ["k"])
    snapshot = with_row_hash(spark.createDataFrame([(1, "a"), (2, "B"), (3, None), (5, None)], schema), ["k"])
    changed = changed_rows(snapshot, current, ["k"]).drop(ROW_HASH)
    expected = spark.createDataFrame([(2, "B", "U"), (5, None, "U"), (4, "d", "D")], f"{schema}, {OP} string")
    assert_df_equality(changed, expected, ignore_row_order=True, ignore_nullable=True)


def test_an_identical_snapshot_changes_nothing(spark: SparkSession) -> None:
    rows = with_row_hash(spark.createDataFrame([(1, "a"), (2, None)], "k int, v string"), ["k"])
    assert changed_rows(rows, rows, ["k"]).count() == 0


def test_api_records_keep_their_latest_version(spark: SparkSession) -> None:
    schema = "review_id string, rating int, updated_at string"
    versions = spark.createDataFrame(
        [
            ("r1", 3, "2026-01-01T00:00:00Z"),
            ("r1", 5, "2026-01-02T00:00:00Z"),
            ("r2", None, "2026-01-01T00:00:00Z"),
        ],
        schema,
    )
    expected = spark.createDataFrame(
        [("r1", 5, "2026-01-02T00:00:00Z"), ("r2", None, "2026-01-01T00:00:00Z")], schema
    )
    assert_df_equality(
        latest_by_key(versions, ["review_id"], ["updated_at"]), expected, ignore_row_order=True
    )


def test_a_redelivered_event_keeps_its_first_landing(spark: SparkSession) -> None:
    schema = "event_id string, offset bigint, page string"
    events = spark.createDataFrame([("e1", 7, "/a"), ("e1", 9, "/a"), ("e2", 8, None)], schema)
    expected = spark.createDataFrame([("e1", 7, "/a"), ("e2", 8, None)], schema)
    assert_df_equality(first_by_key(events, ["event_id"], ["offset"]), expected, ignore_row_order=True)
