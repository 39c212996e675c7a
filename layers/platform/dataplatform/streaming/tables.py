"""The stream's tables in the raw zone, created on first start with their partitioning and properties.

- `raw.events__<topic>`: every record as received (key, value, headers, coordinates), by day of the
  Kafka timestamp;
- `raw.events__<topic>__typed`: valid events, the schema's fields as columns, by day of the Kafka timestamp;
- `raw.events__dead_letters`: every topic's malformed or invalid messages with the reason, by day ingested.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataplatform.streaming.transforms import (
    dead_letter_rows,
    parse_events,
    raw_rows,
    typed_rows,
    with_event_time,
)
from dataplatform.streaming.validation import EventSchema

KAFKA_SCHEMA = T.StructType(
    [
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("timestamp", T.TimestampType()),
        T.StructField("timestampType", T.IntegerType()),
        T.StructField(
            "headers",
            T.ArrayType(
                T.StructType([T.StructField("key", T.StringType()), T.StructField("value", T.BinaryType())])
            ),
        ),
    ]
)
PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    # New fields in an event's schema reach the typed table without a migration.
    "write.spark.accept-any-schema": "true",
}


@dataclass(frozen=True)
class StreamTables:
    namespace: str = "raw"
    event_time_field: str = "occurred_at"

    def raw(self, topic: str) -> str:
        return f"{self.namespace}.events__{_name(topic)}"

    def typed(self, topic: str) -> str:
        return f"{self.raw(topic)}__typed"

    @property
    def dead_letters(self) -> str:
        return f"{self.namespace}.events__dead_letters"

    def ensure(self, spark: SparkSession, schemas: dict[str, EventSchema]) -> list[str]:
        """Create the tables that do not exist yet; returns every table of the stream."""
        empty = spark.createDataFrame([], KAFKA_SCHEMA)
        now = F.current_timestamp()
        wanted: list[tuple[str, DataFrame, str]] = []
        for topic, schema in schemas.items():
            parsed = parse_events(empty, schema)
            wanted.append((self.raw(topic), raw_rows(empty, now), "kafka_timestamp"))
            typed = with_event_time(typed_rows(parsed, now), self.event_time_field)
            wanted.append((self.typed(topic), typed, "kafka_timestamp"))
            letters = dead_letter_rows(parsed, now)
        wanted.append((self.dead_letters, letters, "_ingested_at"))
        for table, frame, day_column in wanted:
            if not spark.catalog.tableExists(table):
                writer = frame.writeTo(table).using("iceberg").partitionedBy(F.days(day_column))
                for key, value in PROPERTIES.items():
                    writer = writer.tableProperty(key, value)
                writer.create()
        return [table for table, _, _ in wanted]


def _name(topic: str) -> str:
    """Kafka topic names may hold `.` and `-`; Glue table names may not."""
    return "".join(c if c.isalnum() else "_" for c in topic.lower())
