"""Quality gates: each rule kind finds the rows that break it, on small frames with null rows."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import DataFrame, SparkSession

from dataplatform.transforms.quality import (
    KINDS,
    Failure,
    GateResult,
    Rule,
    check,
    evaluate,
    load_rules,
    quarantine_rows,
)

CUSTOMER_KNOWN = Rule(
    "customer_known",
    "references",
    {
        "column": "customer_key",
        "table": "analytics.dim_customer",
        "key": "customer_key",
        "where": "is_current",
    },
)


@pytest.fixture(scope="module")
def sales(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [(1, 1, 10), (1, 2, 11), (1, 2, 10), (2, 1, None), (3, 1, 99)],
        "order_key bigint, line_number int, customer_key bigint",
    )


def tables(spark: SparkSession) -> dict[str, DataFrame]:
    return {
        "analytics.dim_customer": spark.createDataFrame(
            [(10, True), (11, True), (99, False)], "customer_key bigint, is_current boolean"
        ),
        "staging.lineitem": spark.createDataFrame([(1,), (2,)], "l_orderkey bigint"),
    }


def keys(rows: DataFrame | None) -> list[tuple[int, int]]:
    assert rows is not None
    return sorted((r.order_key, r.line_number) for r in rows.collect())


def run(spark: SparkSession, rule: Rule, df: DataFrame, age: float | None = 1.0) -> Failure | None:
    return evaluate(rule, df, "analytics.fact_sales", tables(spark).__getitem__, lambda _: age)


def test_not_null_returns_the_rows_with_a_null(spark: SparkSession, sales: DataFrame) -> None:
    failure = run(spark, Rule("n", "not_null", ["customer_key"]), sales)
    assert failure is not None and failure.message == "1 rows with a null in customer_key"
    assert keys(failure.rows) == [(2, 1)]


def test_unique_returns_every_row_of_a_shared_key(spark: SparkSession, sales: DataFrame) -> None:
    failure = run(spark, Rule("u", "unique", ["order_key", "line_number"]), sales)
    assert failure is not None and keys(failure.rows) == [(1, 2), (1, 2)]


def test_references_returns_rows_whose_key_is_unknown_nulls_aside(
    spark: SparkSession, sales: DataFrame
) -> None:
    failure = run(spark, CUSTOMER_KNOWN, sales)
    assert failure is not None and keys(failure.rows) == [(3, 1)]


def test_row_count_reconciles_with_another_table(spark: SparkSession, sales: DataFrame) -> None:
    failure = run(spark, Rule("r", "row_count", {"equals": "staging.lineitem"}), sales)
    assert failure is not None and failure.message == "5 rows, staging.lineitem has 2"
    assert run(
        spark, Rule("r", "row_count", {"equals": "staging.lineitem", "filter": "order_key = 1"}), sales
    )
    assert (
        run(spark, Rule("r", "row_count", {"equals": "staging.lineitem", "filter": "line_number = 2"}), sales)
        is None
    )


def test_freshness_fails_an_old_or_empty_source(spark: SparkSession, sales: DataFrame) -> None:
    rule = Rule("f", "freshness", {"source": "staging.lineitem", "max_age_hours": 48})
    assert run(spark, rule, sales, age=2.0) is None
    old = run(spark, rule, sales, age=50.0)
    assert old is not None and "50.0 h old" in old.message
    assert run(spark, rule, sales, age=None) is not None


def test_the_contract_rule_names_the_departure(spark: SparkSession, sales: DataFrame) -> None:
    failure = run(spark, Rule("c", "contract", "dim_supplier"), sales)
    assert failure is not None and failure.message.startswith("dim_supplier: expected columns")


def test_quarantine_rows_carry_the_rule_and_the_row(spark: SparkSession, sales: DataFrame) -> None:
    failure = run(spark, Rule("n", "not_null", ["customer_key"]), sales)
    assert failure is not None
    [row] = quarantine_rows(GateResult("analytics.fact_sales", [failure]), "run-1").collect()  # type: ignore[union-attr]
    assert (row.run_id, row.table, row.rule) == ("run-1", "analytics.fact_sales", "n")
    assert json.loads(row.row) == {"order_key": 2, "line_number": 1}


def test_a_gate_counts_every_row_rule_in_one_pass_and_gives_each_its_rows(
    spark: SparkSession, sales: DataFrame
) -> None:
    rules = [
        Rule("keys", "not_null", ["customer_key"]),
        Rule("line", "unique", ["order_key", "line_number"]),
        CUSTOMER_KNOWN,
        Rule("orders", "row_count", {"equals": "staging.lineitem"}),
        Rule("order_key", "not_null", ["order_key"]),
    ]
    result = check("analytics.fact_sales", sales, tables(spark).__getitem__, lambda _: 1.0, rules)
    failures = {f.rule: f for f in result.failures}
    assert list(failures) == ["keys", "line", "customer_known", "orders"]
    assert failures["keys"].message == "1 rows with a null in customer_key"
    assert failures["line"].message == "2 rows share a key"
    assert failures["customer_known"].message == "1 rows whose customer_key is not in analytics.dim_customer"
    assert failures["orders"].message == "5 rows, staging.lineitem has 2"
    assert keys(failures["keys"].rows) == [(2, 1)]
    assert keys(failures["line"].rows) == [(1, 2), (1, 2)]
    assert keys(failures["customer_known"].rows) == [(3, 1)]
    assert failures["line"].rows is not None and failures["line"].rows.columns == sales.columns
    assert check(
        "analytics.fact_sales",
        sales.where("order_key = 1 AND line_number = 1"),
        tables(spark).__getitem__,
        lambda _: 1.0,
        rules[:3],
    ).passed


def test_every_rules_file_parses_into_known_kinds() -> None:
    for table in ("fact_sales", "dim_customer", "dim_supplier", "dim_part"):
        rules = load_rules(f"analytics.{table}")
        assert rules and all(r.kind in KINDS for r in rules)
    assert load_rules("analytics.no_such_table") == []
