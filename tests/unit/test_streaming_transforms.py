"""The stream's transformations as pure DataFrame functions, on in-memory Kafka rows (no broker)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataplatform.streaming.tables import KAFKA_SCHEMA
from dataplatform.streaming.transforms import dead_letter_rows, parse_events, raw_rows, typed_rows
from dataplatform.streaming.validation import EventSchema, SchemaError
from tests.conftest import ROOT

SCHEMA = EventSchema.load(ROOT / "streaming/schemas/clickstream.json")
AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
VALID = {
    "event_id": "e-1",
    "event_type": "purchase",
    "occurred_at": "2026-11-24T09:00:00.123Z",
    "session_id": "s-1",
    "customer_key": 42,
    "part_key": 7,
    "quantity": 2,
    "unit_price": 901.07,
    "device": {"type": "mobile", "os": "ios"},
}


def _kafka(spark: SparkSession, values: Sequence[bytes | None]) -> DataFrame:
    rows = [
        (b"s-1", value, "clickstream", 0, offset, AT.replace(tzinfo=None), 0, [("event_type", b"purchase")])
        for offset, value in enumerate(values)
    ]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def _with(**changes: Any) -> bytes:
    event = {**VALID, **changes}
    return json.dumps({k: v for k, v in event.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (_with(), None),
        (_with(device={"type": "tablet"}), None),
        (b'{"event_id": "e-1", "event_ty', "not_json"),
        (_with() + b"{", "not_json"),
        (b"[1, 2]", "not_json"),
        (b"", "not_json"),
        (None, "not_json"),
        (_with(customer_key=...), "missing_required:customer_key"),
        (_with(quantity="two"), "wrong_type:quantity"),
        (_with(customer_key="42"), "wrong_type:customer_key"),
        (_with(event_id=12345), "wrong_type:event_id"),
        (_with(quantity=1.5), "wrong_type:quantity"),
        (_with(device="mobile"), "wrong_type:device"),
        (_with(event_type="click"), "not_in_enum:event_type"),
        (_with(device={"type": "watch"}), "not_in_enum:device.type"),
        (_with(device={"os": "ios"}), "missing_required:device.type"),
        (_with(quantity=0), "below_minimum:quantity"),
        (_with(unit_price=-1), "below_minimum:unit_price"),
        (_with(event_id=""), "too_short:event_id"),
        (_with(occurred_at="yesterday"), "not_date_time:occurred_at"),
    ],
)
def test_each_message_gets_the_first_rule_it_breaks(
    spark: SparkSession, value: bytes | None, reason: str | None
) -> None:
    parsed = parse_events(_kafka(spark, [value]), SCHEMA)
    assert parsed.select("_reason").first()[0] == reason  # type: ignore[index]


def test_every_record_is_raw_and_exactly_one_of_typed_or_dead(spark: SparkSession) -> None:
    values = [_with(), _with(quantity=0), b"nope", _with(event_id="e-2")]
    kafka = _kafka(spark, values)
    at = F.lit(AT).cast("timestamp")
    parsed = parse_events(kafka, SCHEMA)
    typed, dead = typed_rows(parsed, at), dead_letter_rows(parsed, at)
    assert raw_rows(kafka, at).count() == 4
    assert sorted(r.offset for r in typed.collect()) == [0, 3]
    assert [(r.offset, r.reason) for r in dead.orderBy("offset").collect()] == [
        (1, "below_minimum:quantity"),
        (2, "not_json"),
    ]


def test_typed_rows_carry_the_fields_and_their_coordinates(spark: SparkSession) -> None:
    at = F.lit(AT).cast("timestamp")
    typed = typed_rows(parse_events(_kafka(spark, [_with()]), SCHEMA), at)
    expected = spark.createDataFrame(
        [("e-1", "purchase", 42, 2, 901.07, "mobile", "s-1", "clickstream", 0, 0)],
        "event_id string, event_type string, customer_key long, quantity long, unit_price double, "
        "device_type string, kafka_key string, topic string, partition int, offset long",
    )
    actual = typed.select(
        "event_id", "event_type", "customer_key", "quantity", "unit_price",
        F.col("device.type").alias("device_type"), "kafka_key", "topic", "partition", "offset",
    )  # fmt: skip
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_a_schema_with_a_keyword_the_validator_lacks_is_refused(tmp_path: Any) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}}}))
    with pytest.raises(SchemaError, match=r"a uses unsupported keywords \['pattern'\]"):
        EventSchema.load(path)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        # A raw control character inside a string is no JSON (RFC 8259), and the typed parse refuses it too.
        (_with().replace(b'"e-1"', b'"e\t1"'), "not_json"),
        # NaN is no JSON number.
        (_with().replace(b"901.07", b"NaN"), "not_json"),
        # Of duplicate keys, the last is judged: the one the typed table would hold.
        (_with()[:-1] + b', "quantity": 0}', "below_minimum:quantity"),
        (_with(quantity=0)[:-1] + b', "quantity": 3}', None),
    ],
)
def test_edge_messages_are_judged_as_the_typed_parse_reads_them(
    spark: SparkSession, value: bytes, reason: str | None
) -> None:
    parsed = parse_events(_kafka(spark, [value]), SCHEMA)
    assert parsed.select("_reason").first()[0] == reason  # type: ignore[index]
