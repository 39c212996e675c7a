"""The warehouse on the real local PostgreSQL: migrations, the loader, the BI role, bad inputs.

GIVEN the session's local stack (its PostgreSQL migrated by `dp stack up`) and small Iceberg tables with
the analytics tables' schemas, written here with pyiceberg in a namespace of this module,
WHEN the loader runs (again, concurrently, on bad input) and the BI user connects,
THEN the warehouse holds exactly the Iceberg rows, replays change nothing, conflicts are retried,
bad input fails whole with a clear error, and the BI user may only read.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.types import StringType
from pyspark.sql import types as T

from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Settings
from dataplatform.transforms.contract import CONTRACT
from dataplatform.warehouse import tables as wt
from dataplatform.warehouse.adapters import secret_value, warehouse_for
from dataplatform.warehouse.errors import LoadInputError, WarehouseUnavailableError
from dataplatform.warehouse.load import load, load_table
from dataplatform.warehouse.migrations import MIGRATIONS_TABLE, migrate, migrations
from dataplatform.warehouse.postgres import PostgresConnection, PostgresWarehouse
from dptools.local.processes import free_port

pytestmark = pytest.mark.timeout(300)
NAMESPACE = "warehouse_it"
TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(15, 2)


def _arrow(spark_type: T.DataType) -> pa.DataType:
    if isinstance(spark_type, T.DecimalType):
        return pa.decimal128(spark_type.precision, spark_type.scale)
    simple: dict[T.DataType, pa.DataType] = {
        T.LongType(): pa.int64(),
        T.IntegerType(): pa.int32(),
        T.StringType(): pa.string(),
        T.DateType(): pa.date32(),
        T.TimestampType(): TS,
        T.BooleanType(): pa.bool_(),
    }
    return simple[spark_type]


def contract_schema(table: str) -> pa.Schema:
    return pa.schema([pa.field(f.name, _arrow(f.dataType), f.nullable) for f in CONTRACT[table].fields])


# The transforms' outputs of the tables the contract does not cover yet (dataplatform.transforms.model,
# .aggregates), and dim_customer with its bookkeeping column, which the loader leaves out.
SCHEMAS: dict[str, pa.Schema] = {
    "fact_sales": contract_schema("fact_sales"),
    "dim_customer": contract_schema("dim_customer").append(pa.field("_attributes_hash", pa.string())),
    "dim_supplier": contract_schema("dim_supplier"),
    "dim_part": pa.schema(
        [
            ("part_key", pa.int64()),
            ("name", pa.string()),
            ("manufacturer", pa.string()),
            ("brand", pa.string()),
            ("type", pa.string()),
            ("size", pa.int32()),
            ("container", pa.string()),
            ("retail_price", MONEY),
        ]
    ),
    "dim_date": pa.schema(
        [
            ("date_key", pa.int32()),
            ("date", pa.date32()),
            ("year", pa.int32()),
            ("quarter", pa.int32()),
            ("month", pa.int32()),
            ("month_name", pa.string()),
            ("day_of_month", pa.int32()),
            ("day_of_week", pa.int32()),
            ("day_name", pa.string()),
            ("is_weekend", pa.bool_()),
        ]
    ),
    "fact_web_events": pa.schema(
        [
            ("event_id", pa.string()),
            ("event_type", pa.string()),
            ("occurred_at", TS),
            ("event_date", pa.date32()),
            ("session_id", pa.string()),
            ("customer_key", pa.int64()),
            ("part_key", pa.int64()),
            ("quantity", pa.int32()),
            ("unit_price", MONEY),
        ]
    ),
    "fact_reviews": pa.schema(
        [
            ("review_id", pa.int64()),
            ("part_key", pa.int64()),
            ("customer_key", pa.int64()),
            ("rating", pa.int32()),
            ("updated_at", TS),
        ]
    ),
    "agg_revenue_by_nation_month": pa.schema(
        [
            ("nation_name", pa.string()),
            ("region_name", pa.string()),
            ("order_month", pa.date32()),
            ("net_revenue", pa.decimal128(28, 4)),
            ("order_lines", pa.int64()),
            ("orders", pa.int64()),
        ]
    ),
    "agg_daily_funnel": pa.schema(
        [
            ("event_date", pa.date32()),
            ("page_view_sessions", pa.int64()),
            ("add_to_cart_sessions", pa.int64()),
            ("purchase_sessions", pa.int64()),
            ("view_to_cart_rate", pa.decimal128(9, 4)),
            ("cart_to_purchase_rate", pa.decimal128(9, 4)),
        ]
    ),
    "agg_part_ratings": pa.schema(
        [
            ("part_key", pa.int64()),
            ("reviews", pa.int64()),
            ("average_rating", pa.decimal128(4, 2)),
            *[(f"rating_{n}", pa.int64()) for n in range(1, 6)],
        ]
    ),
}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def sales_row(order: int, line: int, customer: int = 7, quantity: str = "1.00") -> dict[str, Any]:
    return {
        "order_key": order,
        "line_number": line,
        "customer_key": customer,
        "part_key": 3,
        "supplier_key": 4,
        "order_date": date(1995, 3, order % 28 + 1),
        "ship_date": None,
        "commit_date": date(1995, 4, 1),
        "receipt_date": None,
        "quantity": Decimal(quantity),
        "extended_price": Decimal("10.50"),
        "discount": Decimal("0.05"),
        "tax": Decimal("0.01"),
        "return_flag": "N",
        "line_status": "O",
        "ship_mode": "AIR",
        "ship_instruct": "",
        "order_status": "O",
        "order_priority": "1-URGENT",
        "net_revenue": Decimal("9.9750"),
    }


ROWS: dict[str, list[dict[str, Any]]] = {
    "fact_sales": [sales_row(o, line) for o in range(1, 40) for line in (1, 2)],
    "dim_customer": [
        {
            "customer_key": 7,
            "name": "Customer#7",
            "nation_name": "GERMANY",
            "region_name": "EUROPE",
            "market_segment": "BUILDING",
            "account_balance": Decimal("-12.30"),
            "valid_from": T0,
            "valid_to": None,
            "is_current": True,
            "_attributes_hash": "h",
        },
        {
            "customer_key": 8,
            "name": 'O\'Brien, "quoted"',
            "nation_name": None,
            "region_name": "",
            "market_segment": None,
            "account_balance": None,
            "valid_from": T0,
            "valid_to": None,
            "is_current": True,
            "_attributes_hash": "h",
        },
    ],
    "dim_supplier": [
        {"supplier_key": 4, "name": "Supplier#4", "nation_name": "PERU", "region_name": "AMERICA"}
    ],
    "dim_part": [
        {
            "part_key": 3,
            "name": "green tomato",
            "manufacturer": "Manufacturer#1",
            "brand": "Brand#13",
            "type": "PROMO",
            "size": 7,
            "container": "JUMBO BOX",
            "retail_price": Decimal("901.00"),
        }
    ],
    "dim_date": [
        {
            "date_key": 19950301,
            "date": date(1995, 3, 1),
            "year": 1995,
            "quarter": 1,
            "month": 3,
            "month_name": "March",
            "day_of_month": 1,
            "day_of_week": 4,
            "day_name": "Wednesday",
            "is_weekend": False,
        }
    ],
    "fact_web_events": [
        {
            "event_id": f"e{i}",
            "event_type": "page_view",
            "occurred_at": T0,
            "event_date": date(2026, 1, 1),
            "session_id": "s1",
            "customer_key": 7,
            "part_key": None,
            "quantity": None,
            "unit_price": None,
        }
        for i in range(5)
    ],
    "fact_reviews": [
        {"review_id": 1, "part_key": 3, "customer_key": 7, "rating": 5, "updated_at": T0},
    ],
    "agg_revenue_by_nation_month": [
        {
            "nation_name": "GERMANY",
            "region_name": "EUROPE",
            "order_month": date(1995, 3, 1),
            "net_revenue": Decimal("777.9750"),
            "order_lines": 78,
            "orders": 39,
        }
    ],
    "agg_daily_funnel": [
        {
            "event_date": date(2026, 1, 1),
            "page_view_sessions": 1,
            "add_to_cart_sessions": 0,
            "purchase_sessions": 0,
            "view_to_cart_rate": Decimal("0.0000"),
            "cart_to_purchase_rate": None,
        }
    ],
    "agg_part_ratings": [
        {
            "part_key": 3,
            "reviews": 1,
            "average_rating": Decimal("5.00"),
            "rating_1": 0,
            "rating_2": 0,
            "rating_3": 0,
            "rating_4": 0,
            "rating_5": 1,
        }
    ],
}


@pytest.fixture(scope="module")
def catalog(stack_settings: Settings) -> Iterator[Catalog]:
    catalog = glue_catalog(stack_settings)
    location = f"s3://{stack_settings.require('curated_bucket')}/{NAMESPACE}-{uuid.uuid4().hex[:8]}"
    catalog.create_namespace(NAMESPACE, {"location": location})
    yield catalog
    for table in catalog.list_tables(NAMESPACE):
        catalog.drop_table(table)
    catalog.drop_namespace(NAMESPACE)


@pytest.fixture(scope="module")
def loaded(stack_settings: Settings, catalog: Catalog) -> Settings:
    """Every analytics table in Iceberg, loaded once into an empty warehouse."""
    reset_warehouse(stack_settings)
    for table, schema in SCHEMAS.items():
        iceberg = catalog.create_table(f"{NAMESPACE}.{table}", schema=schema)
        iceberg.append(pa.Table.from_pylist(ROWS[table], schema=schema))
    run_load(stack_settings, catalog)
    return stack_settings


def reset_warehouse(settings: Settings) -> None:
    warehouse = warehouse_for(settings)
    warehouse.transaction(
        [f"DELETE FROM analytics.{t}" for t in wt.KEYS] + ["DELETE FROM warehouse_meta.load_audit"], "reset"
    )


def run_load(settings: Settings, catalog: Catalog, tables: list[str] | None = None) -> list[Any]:
    return load(
        warehouse_for(settings),
        catalog,
        client("s3", settings),
        settings.require("curated_bucket"),
        tables,
        namespace=NAMESPACE,
    )


def admin(settings: Settings) -> psycopg.Connection[Any]:
    c = PostgresConnection.from_secret(secret_value(settings, settings.require("warehouse_secret")))
    return psycopg.connect(host=c.host, port=c.port, user=c.user, password=c.password, dbname=c.dbname)


def warehouse_rows(settings: Settings, table: str) -> set[tuple[Any, ...]]:
    with admin(settings) as conn:
        return set(conn.execute(f"SELECT * FROM analytics.{table}").fetchall())


def iceberg_rows(catalog: Catalog, table: str) -> set[tuple[Any, ...]]:
    rows = catalog.load_table(f"{NAMESPACE}.{table}").scan().to_arrow()
    rows = rows.drop_columns([c for c in rows.column_names if c.startswith("_")])
    return {tuple(r.values()) for r in rows.to_pylist()}


def audit_rows(settings: Settings) -> int:
    with admin(settings) as conn:
        row = conn.execute("SELECT count(*) FROM warehouse_meta.load_audit").fetchone()
        return int(row[0]) if row else 0


# ------------------------------------------------------------------ migrations
def test_migrations_were_applied_by_stack_up_and_a_second_run_is_a_no_op(stack_settings: Settings) -> None:
    warehouse = warehouse_for(stack_settings)
    assert migrate(warehouse) == []
    recorded = warehouse.query(f"SELECT version, applied FROM {MIGRATIONS_TABLE} ORDER BY version")
    expected = [(m.version, not m.redshift_only) for m in migrations()]
    assert recorded == expected and (4, False) in recorded  # Spectrum: Redshift only, recorded as skipped


# ------------------------------------------------------------------ loads
def test_every_analytics_table_holds_its_iceberg_rows(loaded: Settings, catalog: Catalog) -> None:
    for table in wt.KEYS:
        assert warehouse_rows(loaded, table) == iceberg_rows(catalog, table), table
    assert ("",) != ()  # the dim_customer rows above carry an empty string, a NULL, and quotes
    assert (8, 'O\'Brien, "quoted"', None, "", None, None, T0, None, True) in warehouse_rows(
        loaded, "dim_customer"
    )


def test_an_increment_merges_updates_and_deletes_and_replays_change_nothing(
    loaded: Settings, catalog: Catalog
) -> None:
    sales = catalog.load_table(f"{NAMESPACE}.fact_sales")
    with sales.transaction() as tx:
        tx.delete("order_key = 1")  # order 1 deleted
        tx.delete("order_key = 2")  # order 2 changed
        tx.append(
            pa.Table.from_pylist(
                [sales_row(2, 1, quantity="5.00"), sales_row(99, 1)], schema=SCHEMAS["fact_sales"]
            )
        )
    [result] = run_load(loaded, catalog, ["fact_sales"])
    assert result.rows_deleted >= 1 and result.skipped is None
    after = warehouse_rows(loaded, "fact_sales")
    assert after == iceberg_rows(catalog, "fact_sales")
    assert not any(r[0] == 1 for r in after) and (2, 2) not in {(r[0], r[1]) for r in after}

    audits = audit_rows(loaded)
    for _ in range(3):
        [replay] = run_load(loaded, catalog, ["fact_sales"])
        assert replay.skipped and "up to date" in replay.skipped
    assert warehouse_rows(loaded, "fact_sales") == after and audit_rows(loaded) == audits


def test_a_batch_run_again_after_it_committed_changes_nothing(loaded: Settings, catalog: Catalog) -> None:
    """The plan itself is guarded by the audit row, not only the loader's check before it."""
    from dataplatform.warehouse import load as load_module

    reviews = catalog.load_table(f"{NAMESPACE}.fact_reviews")
    reviews.append(
        pa.Table.from_pylist(
            [{"review_id": 2, "part_key": 3, "customer_key": 8, "rating": 1, "updated_at": T0}],
            schema=SCHEMAS["fact_reviews"],
        )
    )
    sent: list[Any] = []
    warehouse = warehouse_for(loaded)
    original = warehouse.transaction

    def recording(statements: Any, token: str) -> None:
        sent.append(statements)
        original(statements, token)

    warehouse.transaction = recording  # type: ignore[method-assign]
    load_module.load_table(
        warehouse, catalog, client("s3", loaded), loaded.require("curated_bucket"), "fact_reviews", NAMESPACE
    )
    before, audits = warehouse_rows(loaded, "fact_reviews"), audit_rows(loaded)
    for _ in range(3):
        original(sent[0], "replayed")
    assert warehouse_rows(loaded, "fact_reviews") == before == iceberg_rows(catalog, "fact_reviews")
    assert audit_rows(loaded) == audits


def test_a_load_racing_a_concurrent_writer_is_retried_and_loses_nothing(
    loaded: Settings, catalog: Catalog
) -> None:
    sales = catalog.load_table(f"{NAMESPACE}.fact_sales")
    with sales.transaction() as tx:
        tx.delete("order_key = 3")
        tx.append(
            pa.Table.from_pylist(
                [sales_row(3, 1, quantity="7.00"), sales_row(3, 2, quantity="7.00")],
                schema=SCHEMAS["fact_sales"],
            )
        )
    writer = admin(loaded)
    writer.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
    writer.execute("UPDATE analytics.fact_sales SET tax = 0.02 WHERE order_key = 3")  # holds the rows
    released = threading.Timer(2.0, writer.commit)
    released.start()
    started = time.monotonic()
    [result] = run_load(loaded, catalog, ["fact_sales"])
    released.join()
    writer.close()
    assert time.monotonic() - started >= 1.5  # it waited for the writer
    assert result.attempts >= 2, "the load should have lost the first round to the writer and retried"
    assert warehouse_rows(loaded, "fact_sales") == iceberg_rows(catalog, "fact_sales")


# ------------------------------------------------------------------ bad input
def test_a_manifest_naming_a_missing_file_fails_and_loads_nothing(loaded: Settings, catalog: Catalog) -> None:
    from dataplatform.warehouse import export

    s3 = client("s3", loaded)
    original = export.write_files

    def losing_a_file(s3_: Any, bucket: str, prefix: str, rows: pa.Table) -> str | None:
        manifest = original(s3_, bucket, prefix, rows)
        if manifest and prefix.endswith("upserts"):
            s3.delete_object(Bucket=bucket, Key=f"{prefix}/part-00000.parquet")
        return manifest

    parts = catalog.load_table(f"{NAMESPACE}.dim_part")
    parts.append(pa.Table.from_pylist([{**ROWS["dim_part"][0], "part_key": 4}], schema=SCHEMAS["dim_part"]))
    before, audits = warehouse_rows(loaded, "dim_part"), audit_rows(loaded)
    pytest.MonkeyPatch().setattr("dataplatform.warehouse.load.write_files", losing_a_file)
    try:
        with pytest.raises(
            LoadInputError, match=r"the manifest names a missing file: s3://.*part-00000.parquet"
        ):
            run_load(loaded, catalog, ["dim_part"])
    finally:
        pytest.MonkeyPatch().setattr("dataplatform.warehouse.load.write_files", original)
    assert warehouse_rows(loaded, "dim_part") == before and audit_rows(loaded) == audits
    run_load(loaded, catalog, ["dim_part"])  # the same batch, once its files are whole
    assert warehouse_rows(loaded, "dim_part") == iceberg_rows(catalog, "dim_part")


def test_a_drifted_schema_fails_before_anything_is_written(loaded: Settings, catalog: Catalog) -> None:
    supplier = catalog.load_table(f"{NAMESPACE}.dim_supplier")
    with supplier.update_schema() as update:
        update.add_column("phone", StringType())
    supplier = catalog.load_table(f"{NAMESPACE}.dim_supplier")
    supplier.append(
        pa.Table.from_pylist(
            [{"supplier_key": 5, "name": "S5", "nation_name": None, "region_name": None, "phone": "1"}],
            schema=supplier.schema().as_arrow(),
        )
    )
    before = warehouse_rows(loaded, "dim_supplier")
    with pytest.raises(
        LoadInputError,
        match=r"analytics.dim_supplier drifted from the warehouse table: not in the warehouse \['phone'\]",
    ):
        run_load(loaded, catalog, ["dim_supplier"])
    assert warehouse_rows(loaded, "dim_supplier") == before


def test_an_unknown_table_is_refused_before_any_load(loaded: Settings, catalog: Catalog) -> None:
    with pytest.raises(
        LoadInputError, match=r"unknown warehouse tables \['fact_nope'\]; the warehouse loads"
    ):
        run_load(loaded, catalog, ["dim_part", "fact_nope"])


def test_a_warehouse_that_is_down_gives_a_clear_error(loaded: Settings, catalog: Catalog) -> None:
    closed = PostgresConnection("127.0.0.1", free_port(), "dp_admin", "x", "warehouse")
    warehouse = PostgresWarehouse(closed, client("s3", loaded))
    with pytest.raises(
        WarehouseUnavailableError, match=r"the warehouse at 127.0.0.1:\d+ is unreachable .*dp stack up"
    ):
        load_table(
            warehouse, catalog, client("s3", loaded), loaded.require("curated_bucket"), "dim_part", NAMESPACE
        )


# ------------------------------------------------------------------ BI access
@pytest.fixture
def bi(loaded: Settings) -> Iterator[psycopg.Connection[Any]]:
    secret = secret_value(loaded, loaded.require("warehouse_bi_secret"))
    c = PostgresConnection.from_secret(secret)
    with psycopg.connect(
        host=c.host, port=c.port, user=c.user, password=c.password, dbname=c.dbname, autocommit=True
    ) as conn:
        yield conn


def test_the_bi_user_may_select_from_analytics(bi: psycopg.Connection[Any]) -> None:
    row = bi.execute("SELECT count(*) FROM analytics.dim_part").fetchone()
    assert row is not None and row[0] >= 1


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO analytics.dim_part (part_key) VALUES (-1)",
        "UPDATE analytics.dim_part SET size = 0",
        "DELETE FROM analytics.dim_part",
        "TRUNCATE analytics.dim_part",
        "CREATE TABLE analytics.bi_scratch (x int)",
        "CREATE TABLE public.bi_scratch (x int)",
        "DROP TABLE analytics.dim_part",
        "ALTER TABLE analytics.dim_part ADD COLUMN x int",
        "SELECT * FROM warehouse_meta.load_audit",
    ],
)
def test_the_bi_user_is_refused_writes_ddl_and_the_loader_tables(
    bi: psycopg.Connection[Any], statement: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bi.execute(statement)
