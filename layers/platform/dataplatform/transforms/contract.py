"""The contract of the analytics tables that any SQL user may rely on: their columns and types, in
one place. Jobs conform their output to it, the quality gates check it, the README shows it."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

MONEY = T.DecimalType(15, 2)  # quantities, money and rates, as in TPC-H
EXACT_REVENUE = T.DecimalType(18, 4)  # extended_price * (1 - discount), never rounded per row

CONTRACT: dict[str, T.StructType] = {
    "fact_sales": T.StructType(
        [
            T.StructField("order_key", T.LongType(), False),
            T.StructField("line_number", T.IntegerType(), False),
            T.StructField("customer_key", T.LongType(), False),
            T.StructField("part_key", T.LongType(), False),
            T.StructField("supplier_key", T.LongType(), False),
            T.StructField("order_date", T.DateType(), False),
            T.StructField("ship_date", T.DateType(), True),
            T.StructField("commit_date", T.DateType(), True),
            T.StructField("receipt_date", T.DateType(), True),
            T.StructField("quantity", MONEY, False),
            T.StructField("extended_price", MONEY, False),
            T.StructField("discount", MONEY, False),
            T.StructField("tax", MONEY, False),
            T.StructField("return_flag", T.StringType(), True),
            T.StructField("line_status", T.StringType(), True),
            T.StructField("ship_mode", T.StringType(), True),
            T.StructField("ship_instruct", T.StringType(), True),
            T.StructField("order_status", T.StringType(), True),
            T.StructField("order_priority", T.StringType(), True),
            T.StructField("net_revenue", EXACT_REVENUE, False),
        ]
    ),
    "dim_customer": T.StructType(
        [
            T.StructField("customer_key", T.LongType(), False),
            T.StructField("name", T.StringType(), True),
            T.StructField("nation_name", T.StringType(), True),
            T.StructField("region_name", T.StringType(), True),
            T.StructField("market_segment", T.StringType(), True),
            T.StructField("account_balance", MONEY, True),
            T.StructField("valid_from", T.TimestampType(), False),
            T.StructField("valid_to", T.TimestampType(), True),
            T.StructField("is_current", T.BooleanType(), False),
        ]
    ),
    "dim_supplier": T.StructType(
        [
            T.StructField("supplier_key", T.LongType(), False),
            T.StructField("name", T.StringType(), True),
            T.StructField("nation_name", T.StringType(), True),
            T.StructField("region_name", T.StringType(), True),
        ]
    ),
}


class ContractError(ValueError):
    """A frame does not have a contract table's columns."""


def conform(df: DataFrame, table: str) -> DataFrame:
    """The contract's columns, in its order and with its types; extra columns are dropped, a missing
    one is a ContractError."""
    schema = CONTRACT[table]
    missing = [f.name for f in schema.fields if f.name not in df.columns]
    if missing:
        raise ContractError(f"{table}: missing contract columns {missing}")
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def violations(df: DataFrame, table: str) -> list[str]:
    """How `df`'s schema departs from the contract (names, order, types); empty when it conforms."""
    expected = [(f.name, f.dataType.simpleString()) for f in CONTRACT[table].fields]
    actual = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
    if actual == expected:
        return []
    return [f"{table}: expected columns {expected}, got {actual}"]


def create_table_sql(
    target: str, table: str, extra: T.StructType | None = None, properties: Mapping[str, str] | None = None
) -> str:
    """CREATE TABLE IF NOT EXISTS for a contract table (plus bookkeeping columns), as an Iceberg table."""
    fields = [*CONTRACT[table].fields, *(extra.fields if extra else [])]
    columns = ", ".join(
        f"{f.name} {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}" for f in fields
    )
    options = ", ".join(f"'{k}' = '{v}'" for k, v in (properties or {}).items())
    return f"CREATE TABLE IF NOT EXISTS {target} ({columns}) USING iceberg" + (
        f" TBLPROPERTIES ({options})" if options else ""
    )
