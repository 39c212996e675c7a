"""Kafka records to the three raw outputs, as pure DataFrame -> DataFrame functions (no Kafka needed).

`kafka_df` has the Kafka source's columns (key, value, topic, partition, offset, timestamp, headers):

- `raw_rows`: every record as received, plus `_ingested_at`; partitioned by day of the Kafka timestamp;
- `parse_events`: adds the parsed struct and the reason it fails its schema (null when valid);
- `typed_rows`: the valid events' fields as columns with their Kafka coordinates;
- `dead_letter_rows`: the others, as text, with the reason and their coordinates.

Every record lands in raw, and in exactly one of typed or dead letters.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dataplatform.streaming.validation import EventSchema

PARSED, REASON, TEXT = "_event", "_reason", "_text"


def _coordinates() -> list[Column]:
    return [F.col("topic"), F.col("partition"), F.col("offset"), F.col("timestamp").alias("kafka_timestamp")]


def raw_rows(kafka_df: DataFrame, ingested_at: Column) -> DataFrame:
    return kafka_df.select(
        F.col("key"),
        F.col("value"),
        F.col("headers"),
        *_coordinates(),
        ingested_at.alias("_ingested_at"),
    )


def parse_events(kafka_df: DataFrame, schema: EventSchema) -> DataFrame:
    return EventParser(schema)(kafka_df)


class EventParser:
    """`parse_events` for one schema, its columns built once: the stream parses every micro-batch with
    the same parser instead of building the schema's expressions again."""

    def __init__(self, schema: EventSchema) -> None:
        self._text = F.col("value").cast("string")
        self._parsed = F.from_json(F.col(TEXT), schema.spark_type())
        self._validation = schema.validation(TEXT, PARSED)

    def __call__(self, kafka_df: DataFrame) -> DataFrame:
        parsed = kafka_df.withColumn(TEXT, self._text).withColumn(PARSED, self._parsed)
        return self._validation.apply(parsed, REASON)


def typed_rows(parsed_df: DataFrame, ingested_at: Column) -> DataFrame:
    """Valid events: the schema's fields as columns (date-times as timestamps), plus coordinates."""
    fields = parsed_df.schema[PARSED].dataType.fieldNames()  # type: ignore[attr-defined]
    return parsed_df.where(F.col(REASON).isNull()).select(
        *[F.col(f"{PARSED}.{name}").alias(name) for name in fields],
        F.col("key").cast("string").alias("kafka_key"),
        *_coordinates(),
        ingested_at.alias("_ingested_at"),
    )


def with_event_time(typed_df: DataFrame, field: str) -> DataFrame:
    """The event's own time as a timestamp beside its text (which raw keeps as sent)."""
    return typed_df.withColumn(f"{field}_ts", F.to_timestamp(F.col(field)))


def dead_letter_rows(parsed_df: DataFrame, ingested_at: Column) -> DataFrame:
    return parsed_df.where(F.col(REASON).isNotNull()).select(
        F.col("key").cast("string").alias("kafka_key"),
        F.col("value").cast("string").alias("value"),
        F.col(REASON).alias("reason"),
        *_coordinates(),
        ingested_at.alias("_ingested_at"),
    )
