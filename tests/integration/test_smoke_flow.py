"""The smoke flow on the real local stack: Kafka, S3 -> EventBridge -> SQS, and Iceberg both ways."""

from pyspark.sql import SparkSession

from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Settings
from dptools.demo.smoke import (
    ICEBERG_STEP,
    KAFKA_STEP,
    PYICEBERG_TABLE,
    S3_EVENT_STEP,
    SPARK_TABLE,
    kafka_roundtrip,
    run_smoke,
)
from dptools.local.stack import LocalStack

ROWS = [(1, "alpha", 1.5), (2, "beta", None), (3, None, -2.25)]


def test_every_part_of_the_stack_is_running(local_stack: LocalStack) -> None:
    assert {p.name: p.state for p in local_stack.status()} == {
        "aws": "running",
        "kafka": "running",
        "api": "running",
        "dispatcher": "running",
        "warehouse": "running",
    }


def test_each_smoke_step_gets_back_what_it_sent(stack_settings: Settings, spark: SparkSession) -> None:
    observed = {r.name: r.observed for r in run_smoke(stack_settings, lambda: spark)}
    assert list(observed) == [KAFKA_STEP, S3_EVENT_STEP, ICEBERG_STEP]
    assert observed[KAFKA_STEP] == list(range(100))
    event = observed[S3_EVENT_STEP]
    assert (event["source"], event["detail-type"]) == ("aws.s3", "Object Created")
    assert event["detail"]["bucket"]["name"] == stack_settings.raw_bucket
    assert event["detail"]["object"]["key"].startswith("smoke/")
    assert observed[ICEBERG_STEP] == {SPARK_TABLE: ROWS, PYICEBERG_TABLE: ROWS}


def test_the_smoke_flow_is_idempotent(stack_settings: Settings, spark: SparkSession) -> None:
    run_smoke(stack_settings, lambda: spark)
    catalog = glue_catalog(stack_settings)
    assert catalog.load_table(SPARK_TABLE).scan().to_arrow().num_rows == 3
    assert catalog.load_table(PYICEBERG_TABLE).scan().to_arrow().num_rows == 3
    assert spark.table(SPARK_TABLE).count() == 3


def test_kafka_keeps_every_message_of_a_large_batch(stack_settings: Settings) -> None:
    assert kafka_roundtrip(stack_settings.require("kafka_bootstrap"), count=5000) == list(range(5000))
