"""SQL over every zone of the lake on a real Trino server, on the local stack's Glue and S3.

GIVEN two RDS exports cataloged by snapshot_catalog (pyiceberg writes), a stream micro-batch written by the
streaming job's foreachBatch (Spark), and staging tables from the transforms (Spark, published from a branch),
WHEN `dp sql` and the README's time-travel examples run on the stack's Trino,
THEN Trino counts what pyiceberg counts, each export tag gives that export's rows, every bad input gets one
line, and no Trino process outlives the module.

One Trino for the module: it starts while the data lands (about 30 s either way).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Settings
from dataplatform.sql.result import SqlError
from dataplatform.streaming.sink import EpochWriter
from dataplatform.streaming.tables import KAFKA_SCHEMA, StreamTables
from dataplatform.streaming.validation import EventSchema
from dataplatform.transforms.steps import run_step
from dptools.cli.main import app
from dptools.local.paths import DP_LOCAL_DIR
from dptools.local.processes import _group_members
from dptools.local.stack import TRINO, LocalStack
from dptools.local.trino_client import trino_query
from dptools.samples.clickstream import generate_events
from dptools.samples.rds_export import generate_tpch, land_rds_export
from tests.conftest import ROOT

# Later than every other module's export on the shared stack (test_transforms: January 2027).
BEFORE, AFTER = date(2027, 3, 1), date(2027, 3, 2)
README_DATES = {"2026-11-01": BEFORE.isoformat(), "2026-11-02": AFTER.isoformat()}
TOPIC = "trino_clicks"
EVENTS = 400
STAGED = ("region", "nation")
RAW_TABLES = ("raw.tpch__public__orders", "raw.tpch__public__lineitem", "raw.tpch__public__customer")


@dataclass(frozen=True)
class Lake:
    url: str
    settings: Settings

    def query(self, sql: str) -> list[tuple[object, ...]]:
        return trino_query(self.url, sql).rows

    def count(self, table: str) -> int:
        (row,) = self.query(f"SELECT count(*) FROM {table}")
        return int(str(row[0]))


def land_stream_batch(
    spark: SparkSession, topic: str = TOPIC, events: int = EVENTS, stream: str = "trino-tests"
) -> None:
    """One micro-batch of clickstream events on `topic` through the streaming job's own foreachBatch,
    as Kafka would hand it over (test_transforms lands the clickstream topic's with it)."""
    schema = EventSchema.load(ROOT / "streaming/schemas/clickstream.json")
    tables = StreamTables()
    tables.ensure(spark, {topic: schema})
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (
            m.key,
            m.value,
            topic,
            0,
            offset,
            now,
            0,
            [(k, v if isinstance(v, bytes) else (v or "").encode()) for k, v in m.headers],
        )
        for offset, m in enumerate(generate_events(events, seed=12))
    ]
    EpochWriter(spark, stream, {topic: schema}, tables)(spark.createDataFrame(rows, KAFKA_SCHEMA), 0)


def land_staging(spark: SparkSession) -> None:
    run_step(spark, "staging", "trino_tests", list(STAGED))
    run_step(spark, "publish", "trino_tests", [f"staging.{name}" for name in STAGED])


@pytest.fixture(scope="module")
def lake(
    local_stack: LocalStack,
    stack_settings: Settings,
    spark: SparkSession,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Lake]:
    part = local_stack.parts[TRINO]
    local_stack.start_trino(wait=False)
    try:
        tpch = generate_tpch(0.01, tmp_path_factory.mktemp("tpch-trino"))
        for day in (BEFORE, AFTER):
            land_rds_export(stack_settings, tpch, day, timeout_s=90)
        land_stream_batch(spark)
        land_staging(spark)
        yield Lake(local_stack.start_trino(), stack_settings)  # waits until it answers
    finally:
        pid = part.pid()
        part.stop()
        assert pid is None or not _group_members(pid), "a Trino process outlived the tests"


def test_trino_counts_what_pyiceberg_counts_in_every_zone(lake: Lake) -> None:
    catalog = glue_catalog(lake.settings)
    tables = [
        *RAW_TABLES,  # pyiceberg (snapshot_catalog)
        f"raw.events__{TOPIC}",  # Spark (the stream)
        f"raw.events__{TOPIC}__typed",
        *(f"staging.{name}" for name in STAGED),  # Spark (the transforms, published from a branch)
    ]
    counts = {t: lake.count(t) for t in tables}
    assert counts == {t: catalog.load_table(t).scan().to_arrow().num_rows for t in tables}
    assert counts[f"raw.events__{TOPIC}"] == counts[f"raw.events__{TOPIC}__typed"] == EVENTS
    assert all(counts.values())


def readme_examples() -> dict[str, str]:
    """The README's time-travel statements by their comment line, with this module's export dates."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Time travel by export", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sql\n(.*?)```", section, re.S)
    for old, new in README_DATES.items():
        block = block.replace(old, new)
    examples = {}
    for statement in block.split(";"):
        lines = statement.strip().splitlines()
        if lines:
            examples[lines[0].removeprefix("--").strip()] = "\n".join(lines[1:])
    return examples


def test_the_readme_examples_travel_to_an_export_and_diff_two(lake: Lake) -> None:
    examples = readme_examples()
    orders = glue_catalog(lake.settings).load_table("raw.tpch__public__orders")

    def at_tag(day: date, row_filter: str = "True") -> pa.Table:
        snapshot = orders.metadata.refs[f"export-{day}"].snapshot_id
        return orders.scan(snapshot_id=snapshot, row_filter=row_filter).to_arrow()

    # Each export adds orders dated its own day: the tag of BEFORE has BEFORE's, and not AFTER's.
    new_before = at_tag(BEFORE, f"o_orderdate = '{BEFORE}'").num_rows
    assert new_before > 0
    rows = lake.query(examples["orders of one export, by its tag"])
    assert [tuple(r) for r in rows] == [(at_tag(BEFORE).num_rows, new_before)]

    tags = lake.query(examples["the exports a table holds, newest first"])
    assert [r[0] for r in tags][:2] == [f"export-{AFTER}", f"export-{BEFORE}"]
    by_id = lake.query(examples["the same, by snapshot id"].replace("<snapshot id>", str(tags[1][1])))
    assert [tuple(r) for r in by_id] == [(at_tag(BEFORE).num_rows, new_before)]

    customers = glue_catalog(lake.settings).load_table("raw.tpch__public__customer")

    def customer_rows(day: date) -> tuple[set[tuple[object, ...]], int]:
        arrow = customers.scan(snapshot_id=customers.metadata.refs[f"export-{day}"].snapshot_id).to_arrow()
        return set(zip(*(c.to_pylist() for c in arrow.columns), strict=True)), arrow.schema.get_field_index(
            "c_custkey"
        )

    (before, key), (after, _) = customer_rows(BEFORE), customer_rows(AFTER)
    diff = lake.query(examples["customers that differ between two exports"])
    assert diff, "two exports of different days change ~1% of customers"
    assert {(r[0], r[1]) for r in diff} == {("before", row[key]) for row in before - after} | {
        ("after", row[key]) for row in after - before
    }


def dp(local_stack: LocalStack, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={DP_LOCAL_DIR: str(local_stack.paths.root)})
    return result.exit_code, result.output


def test_dp_sql_prints_a_table_csv_json_and_the_zones(
    lake: Lake, local_stack: LocalStack, tmp_path: Path
) -> None:
    query = "SELECT n_nationkey, n_name FROM staging.nation WHERE n_nationkey < 2 ORDER BY 1"
    code, table = dp(local_stack, "sql", query)
    assert code == 0, table
    assert "n_name" in table and "ALGERIA" in table and "(2 rows)" in table

    code, text = dp(local_stack, "sql", "--format", "csv", query)
    assert (code, text) == (0, "n_nationkey,n_name\n0,ALGERIA\n1,ARGENTINA\n")

    file = tmp_path / "query.sql"
    file.write_text(query + ";\n")
    code, text = dp(local_stack, "sql", "-f", str(file), "--format", "json")
    assert code == 0 and json.loads(text) == [
        {"n_nationkey": 0, "n_name": "ALGERIA"},
        {"n_nationkey": 1, "n_name": "ARGENTINA"},
    ]

    (join,) = [
        line for line in (ROOT / "README.md").read_text().splitlines() if "JOIN staging.region" in line
    ]
    code, text = dp(local_stack, "sql", "--format", "csv", join.split('"')[1])
    assert (code, text.splitlines()[1:]) == (
        0,
        [f"{r},5" for r in ("AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST")],
    )

    code, text = dp(local_stack, "sql", "--tables", "--format", "csv")
    assert code == 0
    listed = set(text.splitlines()[1:])
    assert {"raw,tpch__public__orders", f"raw,events__{TOPIC}", "staging,nation"} <= listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SELEC 1"], r"^error: SYNTAX_ERROR: line 1:1: mismatched input 'SELEC'"),
        (["SELECT * FROM raw.no_such_table"], r"^error: TABLE_NOT_FOUND: .*no_such_table' does not exist"),
        ([], r"^error: give exactly one of a query, -f FILE or --tables \(got none\)"),
        (["SELECT 1", "--tables"], r"^error: give exactly one of a query, -f FILE or --tables"),
        (["-f", "/no/such.sql"], r"^error: cannot read /no/such.sql: No such file or directory"),
        (["  ;  "], r"^error: the query holds no SQL"),
        (["--format", "xml", "SELECT 1"], r"^error: --format takes table, csv, json, not 'xml'"),
        (["--profile", "cloud", "SELECT 1"], r"^error: DP_PROFILE='cloud' is not one of"),
    ],
)
def test_bad_input_gets_one_line(lake: Lake, local_stack: LocalStack, args: list[str], message: str) -> None:
    code, text = dp(local_stack, "sql", *args)
    assert code == 2
    assert re.match(message, text), text
    assert len(text.strip().splitlines()) == 1, text


def test_a_trino_that_is_not_running_gets_one_line(tmp_path: Path) -> None:
    """A stack folder with no Trino in it: `dp sql` says how to start it, and the client says the same."""
    result = CliRunner().invoke(app, ["sql", "SELECT 1"], env={DP_LOCAL_DIR: str(tmp_path)})
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "error: the local Trino is not running: start it with `dp stack up --with trino`"
    )
    with pytest.raises(SqlError, match=r"^the local Trino at http://127.0.0.1:9 does not answer: start it"):
        trino_query("http://127.0.0.1:9", "SELECT 1")
