"""The smoke flow on the real local stack: Kafka, S3 -> EventBridge -> SQS, and Iceberg both ways."""

from dptools.local.smoke import kafka_roundtrip, run_smoke
from dptools.local.stack import LocalStack
from pyspark.sql import SparkSession

from dataplatform.settings import Settings


def test_every_part_of_the_stack_is_running(local_stack: LocalStack) -> None:
    assert {p.name: p.state for p in local_stack.status()} == {
        "aws": "running",
        "kafka": "running",
        "api": "running",
        "dispatcher": "running",
    }


def test_the_smoke_flow_passes_every_step(stack_settings: Settings, spark: SparkSession) -> None:
    results = run_smoke(stack_settings, lambda: spark)
    assert [r.name for r in results] == [
        "Kafka produce and consume",
        "S3 put -> EventBridge -> SQS",
        "Iceberg: Spark <-> pyiceberg on Glue",
    ]


def test_the_smoke_flow_is_idempotent(stack_settings: Settings, spark: SparkSession) -> None:
    from dptools.local.smoke import PYICEBERG_TABLE, SPARK_TABLE

    from dataplatform.iceberg.catalog import glue_catalog

    run_smoke(stack_settings, lambda: spark)
    catalog = glue_catalog(stack_settings)
    assert catalog.load_table(SPARK_TABLE).scan().to_arrow().num_rows == 3
    assert catalog.load_table(PYICEBERG_TABLE).scan().to_arrow().num_rows == 3
    assert spark.table(SPARK_TABLE).count() == 3


def test_kafka_keeps_every_message_of_a_large_batch(stack_settings: Settings) -> None:
    assert "5000 messages" in kafka_roundtrip(stack_settings.require("kafka_bootstrap"), count=5000)
