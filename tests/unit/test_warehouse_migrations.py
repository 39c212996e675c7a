"""The warehouse migrations as written (Redshift SQL): their tables match the analytics contract,
their GRANTs give the BI group reading and nothing else, and the local transpilation keeps the tables
while dropping Redshift's storage clauses."""

from __future__ import annotations

import sqlglot
from pyspark.sql import types as T
from sqlglot import exp

from dataplatform.transforms.contract import CONTRACT
from dataplatform.warehouse import tables as wt
from dataplatform.warehouse.dialect import statements, to_dialect
from dataplatform.warehouse.migrations import migrations

SPARK_TO_REDSHIFT: dict[T.DataType, str] = {
    T.LongType(): "BIGINT",
    T.IntegerType(): "INT",
    T.StringType(): "VARCHAR",
    T.DateType(): "DATE",
    T.TimestampType(): "TIMESTAMP WITH TIME ZONE",
    T.BooleanType(): "BOOLEAN",
}


def _redshift_type(spark_type: T.DataType) -> str:
    if isinstance(spark_type, T.DecimalType):
        return f"DECIMAL({spark_type.precision}, {spark_type.scale})"
    return SPARK_TO_REDSHIFT[spark_type]


def _declared(column: exp.ColumnDef) -> tuple[str, str, bool]:
    """A column's name, type (VARCHAR without its length, INTEGER as INT) and nullability."""
    kind = column.args["kind"].sql("redshift")
    kind = "VARCHAR" if kind.startswith("VARCHAR") else {"INTEGER": "INT"}.get(kind, kind)
    nullable = not any(isinstance(c.kind, exp.NotNullColumnConstraint) for c in column.constraints)
    return column.name, kind, nullable


def created_tables() -> dict[str, exp.Create]:
    found = {}
    for migration in migrations():
        for sql in migration.statements({"SpectrumRoleArn": "arn:aws:iam::123456789012:role/spectrum"}):
            if sql.upper().startswith("CREATE TABLE"):
                create = sqlglot.parse_one(sql, read="redshift")
                assert isinstance(create, exp.Create)
                found[create.this.this.sql()] = create
    return found


def test_the_contract_tables_have_the_contracts_columns_types_and_nullability() -> None:
    tables = created_tables()
    for name, schema in CONTRACT.items():
        columns = [c for c in tables[f"analytics.{name}"].this.expressions if isinstance(c, exp.ColumnDef)]
        actual = [_declared(c) for c in columns]
        expected = [(f.name, _redshift_type(f.dataType), f.nullable) for f in schema.fields]
        assert actual == expected, name


def test_every_loaded_table_is_created_with_its_merge_keys_as_primary_key_distribution_and_sort_keys() -> (
    None
):
    tables = created_tables()
    for name, keys in wt.KEYS.items():
        create = tables[f"analytics.{name}"]
        primary = [e for e in create.this.expressions if isinstance(e, exp.PrimaryKey)]
        assert [i.name for i in primary[0].expressions] == list(keys), name
        properties = {type(p) for p in create.args["properties"].expressions}
        assert exp.DistStyleProperty in properties and exp.SortKeyProperty in properties, name


def test_migrations_are_numbered_in_order_and_spectrum_is_redshift_only() -> None:
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert [m.name for m in found if m.redshift_only] == ["lake_external_schemas"]


def test_the_bi_group_is_granted_usage_and_select_on_analytics_only() -> None:
    [bi] = [m for m in migrations() if m.name == "bi_readers"]
    grants = [s for s in bi.statements({}) if "GRANT" in s.upper()]
    assert grants == [
        "GRANT USAGE ON SCHEMA analytics TO GROUP bi_readers",
        "GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO GROUP bi_readers",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO GROUP bi_readers",
    ]
    every_grant = [
        s for m in migrations() for s in m.statements({"SpectrumRoleArn": "x"}) if "GRANT " in s.upper()
    ]
    assert all("bi_readers" not in s or "analytics" in s for s in every_grant)


def test_postgres_gets_the_tables_without_redshift_storage_clauses() -> None:
    sql = "CREATE TABLE analytics.t (k BIGINT NOT NULL ENCODE RAW, v VARCHAR(8) ENCODE ZSTD, PRIMARY KEY (k)) DISTSTYLE KEY DISTKEY (k) COMPOUND SORTKEY (k, v)"
    assert (
        to_dialect(sql, "postgres")
        == "CREATE TABLE analytics.t (k BIGINT NOT NULL, v VARCHAR(8), PRIMARY KEY (k))"
    )
    assert to_dialect(sql, "redshift") == sql


def test_scripts_split_into_statements_without_their_comments() -> None:
    script = "-- a comment; with a semicolon\nCREATE SCHEMA a;\nSELECT 'x;y'\n  FROM t;\n"
    assert statements(script) == ["CREATE SCHEMA a", "SELECT 'x;y'\n  FROM t"]
