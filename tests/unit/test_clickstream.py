"""The clickstream sample: the same seed gives the same messages, every valid event passes the topic's
JSON Schema and every malformed one fails it, the malformed share is exact, and sessions hang together.

The schema (streaming/schemas/clickstream.json, checked by jsonschema with formats) is the oracle: the
tests never rebuild an event the way the generator does.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from dptools.cli.main import app
from dptools.local.paths import DP_LOCAL_DIR
from dptools.samples.clickstream import (
    ADD_TO_CART,
    MALFORMED_KINDS,
    NOT_JSON,
    PAGE_VIEW,
    PURCHASE,
    SCHEMA_FILE,
    UNKNOWN,
    ClickMessage,
    generate_events,
)
from dptools.samples.tpch import CUSTOMER_KEYS, PART_KEYS, retail_price_cents
from tests.conftest import ROOT

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def schema_validator() -> Draft202012Validator:
    schema = json.loads((ROOT / SCHEMA_FILE).read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def ticking_clock(step_s: float = 0.0037) -> Callable[[], float]:
    """A clock that moves `step_s` on from START at each reading."""
    readings = iter(range(10**9))
    return lambda: START + next(readings) * step_s


def messages(count: int, share: float = 0.0, seed: int = 1) -> list[ClickMessage]:
    return list(generate_events(count, share, seed, clock=ticking_clock()))


def parsed(message: ClickMessage) -> Any:
    """The JSON value, or None when the bytes are not JSON."""
    try:
        return orjson.loads(message.value)
    except orjson.JSONDecodeError:
        return None


def header(message: ClickMessage, name: str) -> bytes | str | None:
    return dict(message.headers)[name]


def test_the_same_seed_gives_the_same_messages_and_another_seed_others() -> None:
    # GIVEN / WHEN two runs with seed 5 and one with seed 6, on the same clock
    first, again, other = messages(3_000, 0.1, seed=5), messages(3_000, 0.1, seed=5), messages(3_000, 0.1, 6)

    # THEN the seed-5 runs agree byte for byte, and seed 6 has other events
    assert first == again
    assert {m.value for m in first}.isdisjoint(m.value for m in other)


def test_every_valid_event_passes_the_schema_and_is_well_formed() -> None:
    # GIVEN a stream with no malformed share
    stream = messages(20_000)
    validator = schema_validator()

    # THEN every message is a valid event with a fresh uuid, a millisecond UTC time, in-range keys
    assert all(m.kind is None for m in stream)
    events = [orjson.loads(m.value) for m in stream]
    for event in events:
        validator.validate(event)
        assert UUID.match(event["event_id"]) and UUID.match(event["session_id"])
        assert ISO_MS.match(event["occurred_at"])
        assert 1 <= event["customer_key"] <= CUSTOMER_KEYS and 1 <= event["part_key"] <= PART_KEYS
    assert len({e["event_id"] for e in events}) == len(events)
    assert {e["event_type"] for e in events} == {PAGE_VIEW, ADD_TO_CART, PURCHASE}
    assert {e["device"]["type"] for e in events} == {"mobile", "desktop", "tablet"}


def test_occurred_at_is_the_clock_reading_in_milliseconds() -> None:
    # GIVEN a clock that reads START + 1.2345 s, then START + 61.5 s
    readings = iter((START + 1.2345, START + 61.5))

    # WHEN two events are generated
    first, second = generate_events(2, clock=lambda: next(readings))

    # THEN each is stamped with its reading, truncated to the millisecond
    assert orjson.loads(first.value)["occurred_at"] == "2026-11-24T09:00:01.234Z"
    assert orjson.loads(second.value)["occurred_at"] == second.occurred_at == "2026-11-24T09:01:01.500Z"


def test_every_malformed_message_fails_the_schema_or_is_not_json() -> None:
    # GIVEN a stream in which half the messages are malformed
    stream = messages(10_000, 0.5)
    validator = schema_validator()

    # THEN each malformed message fails, as its kind says; each valid one passes
    failing_keywords: dict[str, set[str]] = defaultdict(set)
    for message in stream:
        value = parsed(message)
        if message.kind is None:
            validator.validate(value)
        elif message.kind == NOT_JSON:
            assert value is None, message.value
        else:
            errors = list(validator.iter_errors(value))
            assert errors, f"{message.kind} passed the schema: {message.value!r}"
            failing_keywords[message.kind].update(e.validator for e in errors)
    assert failing_keywords == {
        "missing_required": {"required"},
        "wrong_type": {"type"},
        "unknown_event_type": {"enum"},
        "below_minimum": {"minimum"},
    }


@pytest.mark.parametrize(
    ("count", "share"), [(0, 0.5), (1, 0.4), (1, 0.6), (999, 0.1), (5_000, 0.013), (2_000, 1.0), (300, 0.0)]
)
def test_the_malformed_share_is_exact_and_the_kinds_add_up(count: int, share: float) -> None:
    # WHEN `count` messages are generated with `share` malformed
    stream = messages(count, share)

    # THEN exactly round(count * share) are malformed, each of a known kind
    kinds = Counter(m.kind for m in stream if m.kind is not None)
    assert len(stream) == count
    assert sum(kinds.values()) == round(count * share)
    assert set(kinds) <= set(MALFORMED_KINDS)


def test_malformed_messages_are_spread_and_every_kind_occurs() -> None:
    # GIVEN 10% of 10,000 messages malformed
    stream = messages(10_000, 0.1)
    positions = [i for i, m in enumerate(stream) if m.kind is not None]

    # THEN every kind occurs often, and the broken ones are spread over the whole stream
    assert min(Counter(stream[i].kind for i in positions).values()) > 100
    assert positions[0] < 500 and positions[-1] > 9_500
    assert 200 < sum(1 for i in positions if i < 2_500) < 300


def test_keys_and_headers_name_the_session_type_and_schema_version() -> None:
    for message in messages(5_000, 0.3):
        value = parsed(message)
        assert header(message, "schema_version") == b"1"
        if message.kind == NOT_JSON:
            assert header(message, "event_type") == UNKNOWN.encode()
            continue
        assert header(message, "event_type") == str(value.get("event_type") or UNKNOWN).encode()
        if "session_id" in value:
            assert message.key == value["session_id"].encode()


def test_sessions_view_parts_add_some_to_the_cart_and_buy_what_the_cart_holds() -> None:
    # GIVEN a valid stream, and its raw bytes for the price literals
    stream = messages(30_000)
    sessions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in stream:
        event = orjson.loads(message.value)
        sessions[event["session_id"]].append(event)
        if event["event_type"] == PURCHASE:
            # THEN a purchase's price is the part's TPC-H retail price, written with two decimals
            cents = retail_price_cents(event["part_key"])
            assert f'"unit_price":{cents // 100}.{cents % 100:02d}'.encode() in message.value

    buying = 0
    for events in sessions.values():
        # THEN a session is one customer on one device, starting with a page view
        assert len({(e["customer_key"], json.dumps(e["device"])) for e in events}) == 1
        assert events[0]["event_type"] == PAGE_VIEW
        viewed: set[int] = set()
        cart: Counter[int] = Counter()
        bought: Counter[int] = Counter()
        previous_page = None
        for event in events:
            if event["event_type"] == PAGE_VIEW:
                assert event["page"] == f"/parts/{event['part_key']}"
                if previous_page is not None:
                    assert event["referrer"] == previous_page
                previous_page = event["page"]
                viewed.add(event["part_key"])
            elif event["event_type"] == ADD_TO_CART:
                assert event["part_key"] in viewed and event["quantity"] >= 1
                cart[event["part_key"]] += event["quantity"]
            else:
                bought[event["part_key"]] += event["quantity"]
        # THEN a session buys nothing or exactly what is in its cart (the last may be cut off by count)
        if bought:
            buying += 1
            assert set(bought) <= set(cart)
            assert all(bought[part] == cart[part] for part in bought)
    assert buying > 100


def test_a_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="malformed_share"):
        list(generate_events(10, 1.5))


def test_dp_sample_events_without_a_running_stack_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a local dir where no stack was ever started
    monkeypatch.setenv(DP_LOCAL_DIR, str(tmp_path))

    # WHEN events are asked for
    result = CliRunner().invoke(app, ["sample", "events", "clicks"])

    # THEN the command fails with one line saying what to do
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: the local stack's Kafka broker is not running: run `dp stack up`"
    ]
