"""`dp sample events`: a JSON clickstream of TPC-H customers browsing TPC-H parts, produced to Kafka.

A session is one customer on one device viewing a few part pages, sometimes adding the part in view to
the cart, and sometimes buying what the cart holds at the end (one purchase event per cart line, at the
part's TPC-H retail price). Fifty sessions run at once, so their events interleave on the topic as real
traffic does. Every choice comes from one `random.Random(seed)`: the same seed gives the same events,
event ids included, in the same order; only `occurred_at` is the clock's ("now" unless a clock is given).

A share of the messages is broken the ways real producers break them, each kind a named constant, and
each one fails `streaming/schemas/clickstream.json` (or is not JSON at all). Exactly
`round(count * malformed_share)` of `count` messages are broken, at seeded positions.

Kafka record: key = session id, value = the JSON bytes, headers `event_type` (`unknown` when the
message is not JSON or has none) and `schema_version`.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, NamedTuple, TypeVar

import orjson

from dptools.samples.tpch import CUSTOMER_KEYS, PART_KEYS, retail_price_cents

SCHEMA_FILE = "streaming/schemas/clickstream.json"
SCHEMA_VERSION = "1"
PAGE_VIEW, ADD_TO_CART, PURCHASE = "page_view", "add_to_cart", "purchase"
EVENT_TYPES = (PAGE_VIEW, ADD_TO_CART, PURCHASE)
UNKNOWN = "unknown"  # the event_type header of a message with no readable event type

NOT_JSON = "not_json"
MISSING_REQUIRED = "missing_required"
WRONG_TYPE = "wrong_type"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
BELOW_MINIMUM = "below_minimum"
MALFORMED_KINDS = (NOT_JSON, MISSING_REQUIRED, WRONG_TYPE, UNKNOWN_EVENT_TYPE, BELOW_MINIMUM)
REQUIRED_FIELDS = ("event_id", "event_type", "occurred_at", "session_id", "customer_key", "part_key")

DEFAULT_PARTITIONS = 3
CONCURRENT_SESSIONS = 50
POPULAR_PARTS = 2_000  # half the page views land on these, as a catalogue's bestsellers draw them
ADD_TO_CART_SHARE = 0.3  # of page views
PURCHASE_SHARE = 0.45  # of sessions that end with a non-empty cart
MAX_PAGE_VIEWS = 12
PACE_STEP_S = 0.02  # at a set rate, produce this long's worth of events, then sleep until they are due
UNLIMITED_CHUNK = 5_000  # messages between polls for delivery reports when the rate is unlimited
DELIVERY_TIMEOUT_MS = 60_000
FLUSH_TIMEOUT_S = 90.0

# (device, weight): most shoppers browse on phones.
DEVICES = (
    ({"type": "mobile", "os": "iOS"}, 26),
    ({"type": "mobile", "os": "Android"}, 30),
    ({"type": "desktop", "os": "Windows"}, 20),
    ({"type": "desktop", "os": "macOS"}, 11),
    ({"type": "desktop", "os": "Linux"}, 3),
    ({"type": "tablet", "os": "iPadOS"}, 7),
    ({"type": "tablet", "os": "Android"}, 3),
)
# Where a session's first page view came from; None is direct traffic (no referrer).
REFERRERS = (
    None, None, None, "https://www.google.com/", "https://www.google.com/", "https://www.google.com/",
    "https://www.bing.com/", "https://duckduckgo.com/", "https://www.facebook.com/", "https://t.co/",
    "https://mail.example.com/newsletter/2026-11", "https://partsforum.example.org/threads/4711",
)  # fmt: skip
QUANTITIES = (1,) * 12 + (2,) * 5 + (3,) * 2 + (4, 5, 10)
# Broken shapes of a valid event, by kind (the last step of each is drawn per message).
WRONG_TYPES = ("customer_key", "part_key", "quantity", "unit_price", "occurred_at", "event_id", "device")
QUANTITY_WORDS = ("one", "two", "three", "a few")
BOGUS_EVENT_TYPES = ("click", "checkout", "PAGE_VIEW", "page-view", "remove_from_cart", "wishlist_add", "")
BELOW_MINIMA = (("quantity", 0), ("quantity", -1), ("part_key", -1), ("part_key", 0), ("customer_key", 0))
GARBAGE = (b"", b"\x00\x00", b"\xff\xfe\x9c", b"}{", b"\n--")

Headers = list[tuple[str, str | bytes | None]]  # Kafka record headers, as confluent_kafka takes them
T = TypeVar("T")


class ClickMessage(NamedTuple):
    """One Kafka record, and what it is: `kind` is None for a valid event, else its MALFORMED_KINDS entry."""

    key: bytes
    value: bytes
    headers: Headers
    kind: str | None
    occurred_at: str


@dataclass(frozen=True)
class ProduceReport:
    """One run: every event acknowledged by the broker; `seed` gives the same events again."""

    topic: str
    produced: int
    valid: int
    malformed: int
    malformed_by_kind: dict[str, int]
    seconds: float
    first_event_at: datetime | None
    last_event_at: datetime | None
    seed: int

    @property
    def events_per_second(self) -> float:
        return self.produced / self.seconds if self.seconds > 0 else 0.0


class ProduceError(RuntimeError):
    """Some events did not reach the broker."""


class _Stamp:
    """ISO-8601 UTC with milliseconds and `Z`; the seconds part is formatted once per second."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._second = -1
        self._prefix = ""

    def __call__(self) -> str:
        second, milli = divmod(int(self.clock() * 1000), 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        return f"{self._prefix}{milli:03d}Z"


def _uuid4(rng: random.Random) -> str:
    """A version-4 UUID string from the seeded generator (uuid.uuid4 reads os.urandom)."""
    h = f"{rng.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62) | (0x4 << 76) | (0x2 << 62):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _pick(draw: Callable[[], float], items: Sequence[T]) -> T:
    """rng.choice, without its pure-Python rejection sampling, which costs more than the event."""
    return items[int(draw() * len(items))]


class _Session:
    """One visit, planned when it starts: the events (without id and time) it will emit, in order."""

    __slots__ = ("events", "key", "next")

    def __init__(self, rng: random.Random, popular: list[int], devices: list[dict[str, str]]) -> None:
        draw = rng.random
        session_id = _uuid4(rng)
        self.key = session_id.encode()
        self.next = 0
        common = {
            "session_id": session_id,
            "customer_key": 1 + int(draw() * CUSTOMER_KEYS),
            "device": _pick(draw, devices),
        }
        self.events: list[dict[str, Any]] = []
        cart: dict[int, int] = {}
        referrer = _pick(draw, REFERRERS)
        for _ in range(min(MAX_PAGE_VIEWS, 1 + int(rng.expovariate(0.35)))):
            part_key = _pick(draw, popular) if draw() < 0.5 else 1 + int(draw() * PART_KEYS)
            page = f"/parts/{part_key}"
            view = {"event_type": PAGE_VIEW, **common, "part_key": part_key, "page": page}
            if referrer is not None:
                view["referrer"] = referrer
            self.events.append(view)
            referrer = page
            if draw() < ADD_TO_CART_SHARE:
                quantity = _pick(draw, QUANTITIES)
                cart[part_key] = cart.get(part_key, 0) + quantity
                self.events.append(
                    {"event_type": ADD_TO_CART, **common, "part_key": part_key, "quantity": quantity}
                )
        if cart and draw() < PURCHASE_SHARE:
            for part_key, quantity in cart.items():
                cents = retail_price_cents(part_key)
                price = orjson.Fragment(f"{cents // 100}.{cents % 100:02d}".encode())
                self.events.append(
                    {
                        "event_type": PURCHASE,
                        **common,
                        "part_key": part_key,
                        "quantity": quantity,
                        "unit_price": price,
                    }
                )


def _headers(event_type: str) -> Headers:
    return [("event_type", event_type.encode()), ("schema_version", SCHEMA_VERSION.encode())]


_VALID_HEADERS = {event_type: _headers(event_type) for event_type in EVENT_TYPES}


def _break(event: dict[str, Any], kind: str, rng: random.Random) -> bytes:
    """The event broken as `kind` says; every result fails the schema or is not JSON."""
    if kind == NOT_JSON:
        whole = orjson.dumps(event)
        return whole[: rng.randrange(1, len(whole))] + rng.choice(GARBAGE)  # any proper prefix is open
    if kind == MISSING_REQUIRED:
        del event[rng.choice(REQUIRED_FIELDS)]
    elif kind == WRONG_TYPE:
        name = rng.choice(WRONG_TYPES)
        if name == "quantity":
            event[name] = rng.choice(QUANTITY_WORDS)
        elif name == "occurred_at":
            event[name] = int(datetime.fromisoformat(event[name]).timestamp() * 1000)  # epoch millis
        elif name == "event_id":
            event[name] = rng.getrandbits(63)
        elif name == "device":
            event[name] = event["device"]["type"]
        elif name == "unit_price":
            event[name] = f"{retail_price_cents(event['part_key']) / 100:.2f}"
        else:
            event[name] = str(event[name])
    elif kind == UNKNOWN_EVENT_TYPE:
        event["event_type"] = rng.choice(BOGUS_EVENT_TYPES)
    else:
        name, value = rng.choice(BELOW_MINIMA)
        event[name] = value
    return orjson.dumps(event)


def generate_events(
    count: int, malformed_share: float = 0.0, seed: int = 0, clock: Callable[[], float] = time.time
) -> Iterator[ClickMessage]:
    """`count` clickstream messages, exactly `round(count * malformed_share)` of them malformed.

    Which messages break is selection sampling (each is broken with probability broken-still-owed over
    messages-left), so the count is exact and the positions are spread at random.
    """
    if not 0.0 <= malformed_share <= 1.0:
        raise ValueError(f"malformed_share must be within [0, 1], not {malformed_share}")
    rng = random.Random(seed)
    popular = [rng.randint(1, PART_KEYS) for _ in range(POPULAR_PARTS)]
    devices = [device for device, weight in DEVICES for _ in range(weight)]
    sessions = [_Session(rng, popular, devices) for _ in range(CONCURRENT_SESSIONS)]
    stamp, draw = _Stamp(clock), rng.random
    owed = round(count * malformed_share)
    for left in range(count, 0, -1):
        slot = int(draw() * CONCURRENT_SESSIONS)
        session = sessions[slot]
        event = session.events[session.next]
        session.next += 1
        if session.next == len(session.events):
            sessions[slot] = _Session(rng, popular, devices)
        occurred_at = stamp()
        event = {"event_id": _uuid4(rng), "occurred_at": occurred_at, **event}
        if owed and draw() * left < owed:
            owed -= 1
            kind = rng.choice(MALFORMED_KINDS)
            value = _break(event, kind, rng)
            event_type = event.get("event_type") if kind != NOT_JSON else None
            header = event_type if isinstance(event_type, str) and event_type else UNKNOWN
            yield ClickMessage(session.key, value, _headers(header), kind, occurred_at)
        else:
            headers = _VALID_HEADERS[event["event_type"]]
            yield ClickMessage(session.key, orjson.dumps(event), headers, None, occurred_at)


def ensure_topic(bootstrap: str, topic: str, partitions: int = DEFAULT_PARTITIONS) -> bool:
    """Create the topic (replication 1) unless it exists; True when this call created it."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic]
    try:
        future.result(timeout=30)
    except KafkaException as exc:
        if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise
    return True


@dataclass
class _Deliveries:
    """The producer's delivery reports, counted."""

    delivered: int = 0
    failed: int = 0
    first_error: str | None = None

    def __call__(self, err: Any, _msg: Any) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            self.first_error = self.first_error or str(err)


def produce_events(
    bootstrap: str,
    topic: str,
    count: int,
    rate: float | None = None,
    malformed_share: float = 0.0,
    seed: int = 0,
    partitions: int = DEFAULT_PARTITIONS,
) -> ProduceReport:
    """Produce `count` events to `topic` (created if missing) at `rate` events/s, None or 0 for as fast
    as the broker takes them; raise ProduceError unless every one is acknowledged by the broker."""
    from confluent_kafka import Producer

    if rate is not None and rate < 0:
        raise ValueError(f"rate must be positive, 0 or None, not {rate}")
    ensure_topic(bootstrap, topic, partitions)
    deliveries = _Deliveries()
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "batch.num.messages": 10_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500_000,
            "queue.buffering.max.kbytes": 512 * 1024,
            "delivery.timeout.ms": DELIVERY_TIMEOUT_MS,
            "on_delivery": deliveries,
            "log_level": 3,
        }
    )
    produce, poll = producer.produce, producer.poll
    chunk = max(1, round(rate * PACE_STEP_S)) if rate else UNLIMITED_CHUNK
    kinds: Counter[str] = Counter()
    first = last = None
    sent = 0
    messages = generate_events(count, malformed_share, seed)
    start = time.monotonic()
    while batch := list(islice(messages, chunk)):
        if rate:
            due = start + sent / rate
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
        for key, value, headers, kind, _ in batch:
            while True:
                try:
                    produce(topic, value, key, headers=headers)
                    break
                except BufferError:  # the local queue is full: let deliveries drain it, then retry
                    poll(0.1)
            if kind is not None:
                kinds[kind] += 1
        first = first or batch[0].occurred_at
        last = batch[-1].occurred_at
        sent += len(batch)
        poll(0)
    undelivered = producer.flush(FLUSH_TIMEOUT_S)
    seconds = time.monotonic() - start
    if undelivered:
        raise ProduceError(f"{undelivered} of {count} events to {topic} undelivered after {FLUSH_TIMEOUT_S}s")
    if deliveries.failed:
        raise ProduceError(
            f"{deliveries.failed} of {count} events to {topic} failed: {deliveries.first_error}"
        )
    malformed = sum(kinds.values())
    return ProduceReport(
        topic=topic,
        produced=sent,
        valid=sent - malformed,
        malformed=malformed,
        malformed_by_kind={kind: kinds[kind] for kind in MALFORMED_KINDS},
        seconds=seconds,
        first_event_at=datetime.fromisoformat(first) if first else None,
        last_event_at=datetime.fromisoformat(last) if last else None,
        seed=seed,
    )
