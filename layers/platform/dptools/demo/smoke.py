"""The smoke flow: each part of the local stack does real work, end to end.

- Kafka: messages produced to a topic are consumed back.
- Iceberg: a table Spark writes in `raw` is read by pyiceberg, and one pyiceberg writes is read by Spark.
- S3 -> EventBridge: an object put to the raw bucket arrives as an `Object Created` event on a queue.

Every step is idempotent: tables are replaced, and the topic and queue are reused.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SMOKE_TOPIC = "dp-smoke"
SPARK_TABLE = "raw.smoke__written_by_spark"
PYICEBERG_TABLE = "raw.smoke__written_by_pyiceberg"
SMOKE_RULE = "dp-smoke-object-created"
SMOKE_QUEUE = "dp-smoke-object-created"
KAFKA_STEP = "Kafka produce and consume"
S3_EVENT_STEP = "S3 put -> EventBridge -> SQS"
ICEBERG_STEP = "Iceberg: Spark <-> pyiceberg on Glue"


class SmokeError(AssertionError):
    """A smoke step did not see what it expected."""


@dataclass(frozen=True)
class StepResult:
    """A step's name, what it saw come back (messages, rows, an event), a line about it, its time."""

    name: str
    observed: Any
    detail: str
    seconds: float


def kafka_roundtrip(bootstrap: str, count: int = 100, timeout_s: float = 60) -> list[int]:
    """Produce `count` numbered messages and consume them back; returns the numbers consumed, sorted."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(SMOKE_TOPIC, num_partitions=3, replication_factor=1)])
    for future in futures.values():
        try:
            future.result(timeout=30)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    run = uuid.uuid4().hex
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "log_level": 3})
    for i in range(count):
        producer.produce(SMOKE_TOPIC, key=f"{run}:{i}", value=json.dumps({"run": run, "seq": i}))
    if producer.flush(30) != 0:
        raise SmokeError("Kafka: messages were still unsent after 30s")

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"dp-smoke-{run}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([SMOKE_TOPIC])
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            body = json.loads(message.value() or b"{}")
            if body.get("run") == run:
                seen.add(body["seq"])
    finally:
        consumer.close()
    if len(seen) != count:
        raise SmokeError(f"Kafka: consumed {len(seen)} of {count} produced messages")
    return sorted(seen)


_ROWS = [(1, "alpha", 1.5), (2, "beta", None), (3, None, -2.25)]


def _arrow_rows() -> Any:
    import pyarrow as pa

    schema = pa.schema([("id", pa.int64(), False), ("name", pa.string()), ("amount", pa.float64())])
    return pa.Table.from_pylist([dict(zip(schema.names, row, strict=True)) for row in _ROWS], schema=schema)


def _sorted_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda r: r[0])


def iceberg_roundtrip(spark: SparkSession, settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Spark writes, pyiceberg reads; pyiceberg writes, Spark reads: the same rows both ways. Returns
    the rows each table gave back to the other engine."""
    spark.sql(
        f"CREATE OR REPLACE TABLE {SPARK_TABLE} (id BIGINT NOT NULL, name STRING, amount DOUBLE) USING iceberg"
    )
    spark.createDataFrame(_ROWS, schema="id BIGINT, name STRING, amount DOUBLE").writeTo(SPARK_TABLE).append()
    catalog = glue_catalog(settings)
    read_back = catalog.load_table(SPARK_TABLE).scan().to_arrow()
    by_pyiceberg = _sorted_rows([tuple(r.values()) for r in read_back.to_pylist()])
    if by_pyiceberg != _ROWS:
        raise SmokeError(f"pyiceberg read {by_pyiceberg} from {SPARK_TABLE}, Spark wrote {_ROWS}")

    rows = _arrow_rows()
    if catalog.table_exists(PYICEBERG_TABLE):
        catalog.load_table(PYICEBERG_TABLE).overwrite(rows)
    else:
        catalog.create_table(PYICEBERG_TABLE, schema=rows.schema).append(rows)
    spark.sql(f"REFRESH TABLE {PYICEBERG_TABLE}")
    by_spark = _sorted_rows([tuple(r) for r in spark.table(PYICEBERG_TABLE).collect()])
    if by_spark != _ROWS:
        raise SmokeError(f"Spark read {by_spark} from {PYICEBERG_TABLE}, pyiceberg wrote {_ROWS}")
    return {SPARK_TABLE: by_pyiceberg, PYICEBERG_TABLE: by_spark}


def s3_notification(settings: Settings, timeout_s: float = 30) -> dict[str, Any]:
    """An object put to the raw bucket reaches a queue through an EventBridge rule on the default bus;
    returns the event that arrived."""
    bucket = settings.require("raw_bucket")
    sqs, events, s3 = client("sqs", settings), client("events", settings), client("s3", settings)
    queue_url = sqs.create_queue(QueueName=SMOKE_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "smoke/"}]}},
    }
    events.put_rule(Name=SMOKE_RULE, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=SMOKE_RULE, Targets=[{"Id": "smoke", "Arn": queue_arn}])
    key = f"smoke/{uuid.uuid4().hex}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"smoke": true}')
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            event = json.loads(message["Body"])
            if event["detail"]["object"]["key"] == key:
                return dict(event)
    raise SmokeError(f"no Object Created event for s3://{bucket}/{key} within {timeout_s:.0f}s")


def run_smoke(
    settings: Settings,
    spark_factory: Callable[[], SparkSession],
    step: Callable[[str], None] = lambda _: None,
) -> list[StepResult]:
    """Run every step, announcing each through `step`; raises SmokeError on the first failure."""
    results = []
    steps: list[tuple[str, Callable[[], Any], Callable[[Any], str]]] = [
        (
            KAFKA_STEP,
            lambda: kafka_roundtrip(settings.require("kafka_bootstrap")),
            lambda seen: f"produced and consumed {len(seen)} messages on topic {SMOKE_TOPIC}",
        ),
        (
            S3_EVENT_STEP,
            lambda: s3_notification(settings),
            lambda event: (
                f"s3://{event['detail']['bucket']['name']}/{event['detail']['object']['key']} "
                f"arrived as '{event['detail-type']}' on queue {SMOKE_QUEUE}"
            ),
        ),
        (
            ICEBERG_STEP,
            lambda: iceberg_roundtrip(spark_factory(), settings),
            lambda rows: " and ".join(rows) + f": {len(_ROWS)} rows each, read back by the other engine",
        ),
    ]
    for name, run, describe in steps:
        step(name)
        started = time.monotonic()
        observed = run()
        results.append(StepResult(name, observed, describe(observed), time.monotonic() - started))
    return results
