"""`dp transform run` on the local stack: TransformStateMachine's ASL run by the local AWS, each of its job
states a run of jobs/transforms.py on local Spark.

GIVEN an export whose order names an unknown customer, WHEN `dp transform run` runs, THEN the run fails
at the facts' gate with its message, the row is quarantined, main is as it was, and TransformFailed is on
the platform bus; AFTER the fix, `--redrive`
finishes that run without re-running the states that succeeded, so that every state has run once and the
run is published. (test_transforms covers clean runs in process; two executions here, a dozen Spark
jobs: the module takes minutes.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from typer.testing import CliRunner, Result

from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Settings
from dataplatform.transforms.lake import branch_name
from dataplatform.transforms.steps import RUN_TABLES
from dptools.cli.main import app
from dptools.local.paths import DP_LOCAL_DIR
from dptools.local.stack import LocalStack
from dptools.samples.rds_export import generate_tpch, land_rds_export
from tests.conftest import bus_listener
from tests.integration.test_transforms import plant_unknown_customer

# Later than the exports the other modules land on the shared stack (test_transforms: Jan 2027), so
# it is the newest when its run starts.
PLANTED = date(2027, 2, 2)
UNKNOWN_CUSTOMER = 999_999_998
JOB_STATES = (
    "Staging",
    "DimCustomer",
    "DimSupplierPartDate",
    "FactSales",
    "FactWebEvents",
    "FactReviews",
    "Aggregates",
    "Publish",
)
LOCK = {"pk": {"S": "transforms/lock"}, "sk": {"S": "run"}}


@pytest.fixture(scope="module")
def dp(local_stack: LocalStack) -> Iterator[Callable[..., Result]]:
    """`dp transform run ARGS` in this process, on the test session's stack."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DP_LOCAL_DIR, str(local_stack.paths.root))
        runner = CliRunner()
        yield lambda *args: runner.invoke(app, ["transform", "run", *args])


@pytest.fixture(scope="module")
def transform_events(stack_settings: Settings) -> Callable[[], list[dict[str, Any]]]:
    """What the platform bus gets from the transforms."""
    return bus_listener(stack_settings, "test-transform-events", {"source": ["dataplatform.transforms"]})


def fact_customers(settings: Settings) -> list[int]:
    """The customer keys of the published facts (none before the first published run)."""
    catalog = glue_catalog(settings)
    if not catalog.table_exists("analytics.fact_sales"):
        return []
    return catalog.load_table("analytics.fact_sales").scan().to_arrow()["customer_key"].to_pylist()


def published_rows(settings: Settings) -> dict[str, tuple[int | None, str]]:
    """main of every run table: its snapshot, and the rows it holds."""
    catalog = glue_catalog(settings)
    published: dict[str, tuple[int | None, str]] = {}
    for table in RUN_TABLES:
        if catalog.table_exists(table):
            snapshot = catalog.load_table(table).current_snapshot()
            rows = snapshot.summary.get("total-records", "0") if snapshot and snapshot.summary else "0"
            published[table] = (snapshot.snapshot_id if snapshot else None, rows)
    return published


def lock_released(settings: Settings) -> bool:
    table = settings.require("ingest_state_table")
    return "Item" not in client("dynamodb", settings).get_item(TableName=table, Key=LOCK)


@dataclass(frozen=True)
class FailedRun:
    result: Result
    events: list[dict[str, Any]]
    main_before: dict[str, tuple[int | None, str]]
    main_after: dict[str, tuple[int | None, str]]


@pytest.fixture(scope="module")
def failed_run(
    dp: Callable[..., Result],
    stack_settings: Settings,
    transform_events: Callable[[], list[dict[str, Any]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> FailedRun:
    tpch = generate_tpch(0.01, tmp_path_factory.mktemp("tpch-planted"))
    plant_unknown_customer(tpch, UNKNOWN_CUSTOMER)
    land_rds_export(stack_settings, tpch, PLANTED, timeout_s=90)
    before = published_rows(stack_settings)
    result = dp()
    return FailedRun(result, transform_events(), before, published_rows(stack_settings))


def test_a_failed_gate_fails_the_run_with_its_message_and_emits_transform_failed(
    failed_run: FailedRun, spark: SparkSession, stack_settings: Settings
) -> None:
    result, events = failed_run.result, failed_run.events
    assert result.exit_code == 1, result.output
    assert "Transforms.GateFailed" in result.output
    assert re.search(
        r"customer_known: \d+ rows whose customer_key is not in analytics\.dim_customer", result.output
    )
    assert "Publish started" not in result.output
    failed = [e for e in events if e["detail-type"] == "TransformFailed"]
    assert len(failed) == 1 and failed[0]["detail"]["error"] == "Transforms.GateFailed"
    assert UNKNOWN_CUSTOMER not in fact_customers(stack_settings)
    # Staging took the row, but main is as it was: a table the run created holds no rows there.
    before, after = failed_run.main_before, failed_run.main_after
    assert {t: main for t, main in after.items() if t in before} == before
    assert {t: rows for t, (_, rows) in after.items() if t not in before} == dict.fromkeys(
        set(after) - set(before), "0"
    )
    quarantined = spark.table("staging.transform_quarantine").where(f"row LIKE '%{UNKNOWN_CUSTOMER}%'")
    assert {(q.table, q.rule) for q in quarantined.collect()} == {("analytics.fact_sales", "customer_known")}
    assert {json.loads(q.row)["customer_key"] for q in quarantined.collect()} == {UNKNOWN_CUSTOMER}
    assert lock_released(stack_settings)


def test_a_redrive_after_the_fix_finishes_without_the_states_that_succeeded(
    failed_run: FailedRun,
    dp: Callable[..., Result],
    spark: SparkSession,
    stack_settings: Settings,
) -> None:
    result = failed_run.result
    match = re.search(r"--redrive (\S+?)`", result.output)
    assert match, result.output
    failed_execution = match.group(1)
    # The fix: the customer the source forgot, added to the failed run's own dimension (its branch).
    branch = f"glue.analytics.dim_customer.branch_{branch_name(failed_execution)}"
    customer = (
        spark.table(branch)
        .where("is_current")
        .limit(1)
        .withColumn("customer_key", F.lit(UNKNOWN_CUSTOMER).cast("bigint"))
    )
    customer.writeTo(branch).append()

    redriven = dp("--redrive", failed_execution)
    assert redriven.exit_code == 0, redriven.output
    for state in ("Staging", "DimCustomer", "DimSupplierPartDate"):
        assert f"{state} started" not in redriven.output
    for state in ("FactSales", "Aggregates", "Publish"):
        assert f"ok {state}" in redriven.output
    # Between them, the two executions ran every state once, and the redrive published the run.
    for state in JOB_STATES:
        assert f"ok {state}" in result.output + redriven.output
    assert "published" in redriven.output
    assert UNKNOWN_CUSTOMER in fact_customers(stack_settings)
    assert lock_released(stack_settings)
