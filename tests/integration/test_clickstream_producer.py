"""The clickstream producer against the local stack's real Kafka broker: what `produce_events` reports is
what a consumer reads back (count, keys, headers, partitions), the malformed messages are exactly those
that fail the topic's JSON Schema, a set rate paces the run, and `dp sample events` does the same.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter

import orjson
import pytest
from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from dptools.cli.main import app
from dptools.local.paths import DP_LOCAL_DIR
from dptools.local.stack import LocalStack
from dptools.samples.clickstream import (
    MALFORMED_KINDS,
    NOT_JSON,
    SCHEMA_FILE,
    ensure_topic,
    generate_events,
    produce_events,
)
from tests.conftest import ROOT

# occurred_at is the clock's, so two runs of one seed differ there only (also in a truncated message).
OCCURRED_AT = re.compile(rb'(?<="occurred_at":)"?[0-9T:.Z-]*"?')


def fresh_topic() -> str:
    return f"clicks_{uuid.uuid4().hex[:10]}"


def bootstrap_of(stack: LocalStack) -> str:
    bootstrap = stack.kafka_bootstrap()
    assert bootstrap is not None
    return bootstrap


def consume_all(bootstrap: str, topic: str, timeout_s: float = 60) -> list[Message]:
    """Every message on the topic, read from the start of each partition to its end."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        read: list[Message] = []
        position = dict.fromkeys(partitions, 0)
        deadline = time.monotonic() + timeout_s
        while any(position[p] < ends[p] for p in partitions) and time.monotonic() < deadline:
            for message in consumer.consume(1_000, timeout=1):
                assert message.error() is None, message.error()
                partition, offset = message.partition(), message.offset()
                assert partition is not None and offset is not None
                read.append(message)
                position[partition] = offset + 1
        return read
    finally:
        consumer.close()


def partition_count(bootstrap: str, topic: str) -> int:
    return len(
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10).topics[topic].partitions
    )


def test_what_is_produced_is_read_back_and_the_malformed_are_exactly_the_invalid(
    local_stack: LocalStack,
) -> None:
    # GIVEN a fresh topic
    bootstrap, topic = bootstrap_of(local_stack), fresh_topic()

    # WHEN 5,000 events, 10% malformed, are produced as fast as the broker takes them
    report = produce_events(bootstrap, topic, 5_000, None, 0.1, seed=42)

    # THEN the report counts them
    assert (report.topic, report.produced, report.valid, report.malformed) == (topic, 5_000, 4_500, 500)
    assert sum(report.malformed_by_kind.values()) == 500 and set(report.malformed_by_kind) == set(
        MALFORMED_KINDS
    )
    assert report.first_event_at is not None and report.last_event_at is not None
    assert report.first_event_at <= report.last_event_at and report.seconds > 0

    # THEN a consumer reads all of them back from the 3 partitions of the new topic
    messages = consume_all(bootstrap, topic)
    assert len(messages) == 5_000
    assert partition_count(bootstrap, topic) == 3

    # THEN the messages failing the schema (or not JSON) are exactly those the generator broke, by kind
    schema = json.loads((ROOT / SCHEMA_FILE).read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    expected = {OCCURRED_AT.sub(b"T", m.value): m.kind for m in generate_events(5_000, 0.1, seed=42)}
    failing: Counter[str] = Counter()
    partition_of_session: dict[bytes, set[int]] = {}
    for message in messages:
        raw = message.value()
        assert raw is not None
        headers = dict(message.headers() or [])
        assert headers["schema_version"] == b"1"
        kind = expected[OCCURRED_AT.sub(b"T", raw)]
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            assert kind == NOT_JSON and headers["event_type"] == b"unknown"
            failing[NOT_JSON] += 1
            continue
        valid = validator.is_valid(event)
        assert valid == (kind is None), (kind, raw)
        if kind is not None:
            failing[kind] += 1
        if isinstance(event.get("event_type"), str) and event["event_type"]:
            assert headers["event_type"] == event["event_type"].encode()
        if "session_id" in event:
            assert message.key() == event["session_id"].encode()
        partition_of_session.setdefault(message.key() or b"", set()).add(message.partition() or 0)
    assert failing == Counter({k: n for k, n in report.malformed_by_kind.items() if n})

    # THEN a session's events share a partition, so they stay in order
    assert all(len(partitions) == 1 for partitions in partition_of_session.values())


def test_a_set_rate_paces_the_run_and_an_existing_topic_is_kept(local_stack: LocalStack) -> None:
    # GIVEN a topic that already exists with 2 partitions
    bootstrap, topic = bootstrap_of(local_stack), fresh_topic()
    assert ensure_topic(bootstrap, topic, partitions=2) is True
    assert ensure_topic(bootstrap, topic, partitions=2) is False

    # WHEN 2,500 events are produced at 5,000/s
    report = produce_events(bootstrap, topic, 2_500, 5_000, 0.0, seed=1)

    # THEN the run takes about half a second, the topic keeps its 2 partitions and holds every event
    assert 0.45 <= report.seconds < 5, report.seconds
    assert partition_count(bootstrap, topic) == 2
    assert len(consume_all(bootstrap, topic)) == 2_500


def test_dp_sample_events_produces_to_the_stacks_broker(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the CLI pointed at the test stack
    monkeypatch.setenv(DP_LOCAL_DIR, str(local_stack.paths.root))
    bootstrap, topic = bootstrap_of(local_stack), fresh_topic()

    # WHEN `dp sample events` produces 2,000 events, 5% malformed, at 10,000/s to a 4-partition topic
    args = [
        "--count",
        "2000",
        "--rate",
        "10000",
        "--malformed-share",
        "0.05",
        "--partitions",
        "4",
        "--seed",
        "9",
    ]
    result = CliRunner().invoke(app, ["sample", "events", *args, topic])

    # THEN it reports them, and they are on the topic
    assert result.exit_code == 0, result.output
    assert "2000 events" in result.output and "1900 valid, 100 malformed" in result.output
    assert "seed 9" in result.output
    assert partition_count(bootstrap, topic) == 4
    assert len(consume_all(bootstrap, topic)) == 2_000
