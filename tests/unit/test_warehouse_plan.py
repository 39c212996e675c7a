"""The load plan, the schema check and the conflict retries, without a warehouse.

GIVEN a batch, an Iceberg schema beside a warehouse table's columns, or a transaction that loses races,
WHEN the plan is made, the columns are checked, or the transaction is retried,
THEN every change is guarded by the batch's absence from the audit, drift is named column by column,
and only serialization conflicts are retried, a bounded number of times.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from dataplatform.warehouse.connection import CopyFromManifest
from dataplatform.warehouse.errors import LoadInputError, SerializationConflictError, WarehouseError
from dataplatform.warehouse.load import run_with_retries
from dataplatform.warehouse.plan import Batch, load_statements
from dataplatform.warehouse.schema_check import loaded_columns


def batch(replace: bool = False, deletes: bool = True) -> Batch:
    return Batch(
        table="fact_reviews",
        batch_id="fact_reviews.1.2",
        previous_snapshot_id=None if replace else 1,
        source_snapshot_id=2,
        columns=("review_id", "rating"),
        keys=("review_id",),
        upserts_manifest="s3://c/warehouse-loads/fact_reviews/fact_reviews.1.2/upserts/manifest.json",
        deletes_manifest="s3://c/warehouse-loads/fact_reviews/fact_reviews.1.2/deletes/manifest.json"
        if deletes
        else None,
        rows_staged=3,
        rows_deleted=1 if deletes else 0,
        replace=replace,
    )


GUARD = "NOT EXISTS (SELECT 1 FROM warehouse_meta.load_audit WHERE batch_id = 'fact_reviews.1.2')"


@pytest.mark.parametrize("replace", [False, True])
def test_every_change_of_the_target_and_the_audit_is_guarded_by_the_batch_id(replace: bool) -> None:
    plan = load_statements(batch(replace=replace))
    sql = [s for s in plan if isinstance(s, str)]
    changes = [s for s in sql if s.startswith(("DELETE", "INSERT"))]
    assert changes and all(GUARD in s for s in changes)
    merges = [s for s in sql if s.startswith("MERGE")]
    assert (merges == []) == replace  # a replacing load inserts; an increment merges from the guarded dedup
    assert all("dedup_fact_reviews" in s for s in merges)
    assert sql[-1].startswith("INSERT INTO warehouse_meta.load_audit")


def test_an_increment_copies_its_upserts_and_deletes_and_dedupes_by_key() -> None:
    plan = load_statements(batch())
    copies = [s for s in plan if isinstance(s, CopyFromManifest)]
    assert [(c.table, c.columns) for c in copies] == [
        ("stage_fact_reviews", ("review_id", "rating")),
        ("deleted_fact_reviews", ("review_id",)),
    ]
    dedup = next(s for s in plan if isinstance(s, str) and s.startswith("CREATE TEMP TABLE dedup_"))
    assert "ROW_NUMBER() OVER (PARTITION BY review_id ORDER BY review_id)" in dedup and "dp_row = 1" in dedup


WAREHOUSE = [("review_id", "character varying", None), ("rating", "integer", None), ("score", "numeric", 2)]


def test_matching_columns_load_in_the_warehouse_order_bookkeeping_aside() -> None:
    source = pa.schema(
        [
            ("score", pa.decimal128(9, 2)),
            ("_hash", pa.string()),
            ("rating", pa.int64()),
            ("review_id", pa.string()),
        ]
    )
    assert loaded_columns("fact_reviews", source, WAREHOUSE) == ("review_id", "rating", "score")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (pa.schema([("review_id", pa.string()), ("rating", pa.int32())]), r"missing in Iceberg \['score'\]"),
        (
            pa.schema(
                [
                    ("review_id", pa.string()),
                    ("rating", pa.int32()),
                    ("score", pa.decimal128(9, 2)),
                    ("x", pa.int8()),
                ]
            ),
            r"not in the warehouse \['x'\]",
        ),
        (
            pa.schema([("review_id", pa.string()), ("rating", pa.string()), ("score", pa.decimal128(9, 3))]),
            r"types differ: rating text != integer, score numeric\(3\) != numeric\(2\)",
        ),
    ],
)
def test_a_drifted_schema_is_named_column_by_column(source: pa.Schema, message: str) -> None:
    with pytest.raises(
        LoadInputError, match=r"analytics.fact_reviews drifted from the warehouse table: " + message
    ):
        loaded_columns("fact_reviews", source, WAREHOUSE)


def test_a_table_missing_from_the_warehouse_asks_for_the_migrations() -> None:
    with pytest.raises(LoadInputError, match="does not exist in the warehouse: run the migrations"):
        loaded_columns("fact_reviews", pa.schema([("review_id", pa.string())]), [])


def test_conflicts_are_retried_a_bounded_number_of_times_and_other_errors_not_at_all() -> None:
    attempts: list[int] = []

    def losing_twice(attempt: int) -> None:
        attempts.append(attempt)
        if attempt < 3:
            raise SerializationConflictError("could not serialize access")

    assert run_with_retries(losing_twice, sleep=lambda _: None) == 3 and attempts == [1, 2, 3]

    def always_losing(attempt: int) -> None:
        raise SerializationConflictError("could not serialize access")

    with pytest.raises(SerializationConflictError):
        run_with_retries(always_losing, attempts=4, sleep=lambda _: None)

    failed: list[int] = []

    def failing(attempt: int) -> None:
        failed.append(attempt)
        raise WarehouseError("permission denied")

    with pytest.raises(WarehouseError, match="permission denied"):
        run_with_retries(failing, sleep=lambda _: None)
    assert failed == [1]
