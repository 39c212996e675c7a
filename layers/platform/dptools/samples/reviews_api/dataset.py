"""The reviews and parts the API serves, each record computed from its ids: the same ids give the same
record, however large the dataset.

Entry j of the change log is `updated_at = EPOCH + j minutes`; which review an entry holds is the change
log's business (changelog.py).
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from dptools.samples.tpch import (
    COLORS,
    CUSTOMER_KEYS,
    MATERIALS,
    NATIONS,
    PART_KEYS,
    TYPE_FINISHES,
    TYPE_SIZES,
    retail_price_cents,
)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ENTRY_SPACING_S, ENTRIES_PER_DAY = 60, 1440

THINGS = ("sink", "bike", "dishwasher", "workbench", "gate", "mixer", "pump", "shelf")
TAGS = (
    "durable", "good-value", "fast-shipping", "easy-install", "gift",
    "fits-well", "noisy", "fragile", "returned", "would-recommend",
)  # fmt: skip
SENTENCES = (
    "The {color} finish looks exactly like the photos.",
    "Fits the {thing} perfectly and took ten minutes to install.",
    "Shipping was {speed}, and the box arrived intact.",
    "Cheaper than the {brand} part I replaced and just as solid.",
    "After {weeks} weeks of daily use it still works like new.",
    "The {material} feels thinner than I expected for the price.",
    "Instructions were missing, but the {thing} was easy to figure out.",
    "I ordered two more for the {place}.",
    "One screw was stripped out of the box, so I used my own.",
    "Customer service replaced the damaged {thing} within a week.",
    "It is a little noisy at full speed, otherwise no complaints.",
    "Matches the original {brand} spec to the millimetre.",
    "Would buy again if the price stays around this level.",
    "The {color} coating started to peel after {weeks} weeks outside.",
    "Solid {material}, heavier than it looks, and well machined.",
    "Returned the first one because the size was wrong; the second fit the {thing}.",
)
TITLE_WORDS = {
    "low": (("Disappointing", "Flimsy", "Broken", "Useless"), ("part", "fit", "finish", "purchase")),
    "mid": (("Decent", "Okay", "Average", "Mixed"), ("quality", "value", "build", "replacement")),
    "high": (("Great", "Sturdy", "Perfect", "Excellent"), ("replacement", "fit", "value", "upgrade")),
}
RATINGS = (1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5)  # reviews lean positive, as they do

_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64's finaliser: 64 well-mixed bits from an integer, for the fixed pools below."""
    x = ((x + 0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 30)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _body(seed: int) -> str:
    """80-300 characters of review sentences, no sentence twice, each slot filled from a hash chain."""
    h = _mix(seed)
    target = 80 + h % 221
    text, used = "", set()
    while len(text) < target:
        h = _mix(h)
        if h % len(SENTENCES) in used:
            continue
        used.add(h % len(SENTENCES))
        sentence = SENTENCES[h % len(SENTENCES)].format(
            color=COLORS[(h >> 8) % len(COLORS)],
            thing=THINGS[(h >> 16) % len(THINGS)],
            speed=("fast", "slow", "on time", "two days early")[(h >> 20) % 4],
            brand=f"Brand#{(h >> 24) % 5 + 1}{(h >> 28) % 5 + 1}",
            weeks=2 + (h >> 32) % 11,
            material=MATERIALS[(h >> 36) % 5].lower(),
            place=("garage", "cabin", "shop", "kitchen")[(h >> 40) % 4],
        )
        if len(text) + 1 + len(sentence) > 300:
            break
        text = f"{text} {sentence}" if text else sentence
    return text


def _tags(seed: int) -> tuple[str, ...]:
    h = _mix(seed)
    chosen: list[str] = []
    for shift in range(2, 2 + 8 * (h % 4), 8):
        tag = TAGS[(h >> shift) % len(TAGS)]
        if tag not in chosen:
            chosen.append(tag)
    return tuple(chosen)


def _tables(name: str) -> tuple[array[int], array[int]]:
    """Two tables of 65,536 fixed 32-bit words: `lo[id & 0xFFFF] ^ hi[id >> 16]` hashes an id below 2**32
    with two lookups (tabulation hashing), and keeps the per-record work to small-integer arithmetic."""
    tables = []
    for half in ("lo", "hi"):
        words = array("I", hashlib.shake_256(f"reviews-api/{name}/{half}".encode()).digest(4 * 65_536))
        if sys.byteorder == "big":
            words.byteswap()
        tables.append(words)
    return tables[0], tables[1]


# Fixed pools, picked by hash: every record is lookups and arithmetic.
BODIES = tuple(_body(i) for i in range(1024))
TAG_SETS = tuple(_tags(i + 7_000_000) for i in range(256))
TITLES = tuple(
    tuple(f"{adjective} {noun}" for adjective in TITLE_WORDS[mood][0] for noun in TITLE_WORDS[mood][1])
    for mood in ("low", "low", "mid", "high", "high")
)  # by rating
_CUSTOMER_LO, _CUSTOMER_HI = _tables("customer")
_PART_LO, _PART_HI = _tables("part")
_TRAITS_LO, _TRAITS_HI = _tables("traits")
_VOTES_LO, _VOTES_HI = _tables("votes")
_M30 = (1 << 30) - 1
_CLOCK = tuple(f"T{minute // 60:02d}:{minute % 60:02d}:00Z" for minute in range(ENTRIES_PER_DAY))


@lru_cache(maxsize=4096)
def _day(index: int) -> str:
    return (EPOCH.date() + timedelta(days=index)).isoformat()


def updated_at(entry: int) -> str:
    """Entry `entry`'s `updated_at`, ISO-8601 UTC with `Z`."""
    return _day(entry // ENTRIES_PER_DAY) + _CLOCK[entry % ENTRIES_PER_DAY]


def entry_at(moment: datetime) -> int:
    """The first entry whose `updated_at` is at or after `moment`."""
    delta = moment - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return max(0, -(-micros // (ENTRY_SPACING_S * 1_000_000)))


def new_reviews(first_review_id: int, first_entry: int, count: int, drift_from: int) -> list[dict[str, Any]]:
    """Reviews `first_review_id`.. as first written, as entries `first_entry`..; from entry `drift_from` on
    they carry `sentiment`.

    The hot path of every page, so one loop of lookups and small-integer arithmetic.
    """
    out: list[dict[str, Any]] = []
    day, day_text = -1, ""
    for review_id in range(first_review_id, first_review_id + count):
        entry = first_entry + review_id - first_review_id
        if entry // ENTRIES_PER_DAY != day:
            day = entry // ENTRIES_PER_DAY
            day_text = _day(day)
        stamp = day_text + _CLOCK[entry % ENTRIES_PER_DAY]
        lo, hi = review_id & 0xFFFF, (review_id >> 16) & 0xFFFF
        customer_key = ((_CUSTOMER_LO[lo] ^ _CUSTOMER_HI[hi]) & _M30) % CUSTOMER_KEYS + 1
        part_key = ((_PART_LO[lo] ^ _PART_HI[hi]) & _M30) % PART_KEYS + 1
        traits = (_TRAITS_LO[lo] ^ _TRAITS_HI[hi]) & _M30
        votes = (_VOTES_LO[lo] ^ _VOTES_HI[hi]) & _M30
        rating = RATINGS[traits & 15]
        record = {
            "review_id": review_id,
            "part_key": part_key,
            "customer_key": customer_key,
            "rating": rating,
            "title": TITLES[rating - 1][(traits >> 4) & 15],
            "body": BODIES[(traits >> 8) & 1023],
            "helpful_votes": (votes & 63) * (votes & 63) // 64,
            "verified_purchase": (traits >> 26) & 7 != 0,
            "price_paid": retail_price_cents(part_key) * (100 - ((votes >> 6) & 31)) // 100 / 100,
            "created_at": stamp,
            "updated_at": stamp,
            "reviewer": {
                "customer_key": customer_key,
                "name": f"Customer#{customer_key:09d}",
                "nation": NATIONS[customer_key % 25],
            },
            "tags": TAG_SETS[(traits >> 18) & 255],
            "images": None if (votes >> 11) % 12 else _images(review_id, votes),
        }
        if entry >= drift_from:
            record["sentiment"] = _sentiment(rating, votes)
        out.append(record)
    return out


def updated_review(review_id: int, created_entry: int, entry: int, sentiment: bool) -> dict[str, Any]:
    """Review `review_id` (first written as `created_entry`) updated as entry `entry`: any rating but the
    first, and a helpful vote an hour since."""
    record = new_reviews(review_id, created_entry, 1, sys.maxsize)[0]
    record["rating"] = (record["rating"] + entry % 4) % 5 + 1
    record["helpful_votes"] += 1 + (entry - created_entry) // 60
    record["updated_at"] = updated_at(entry)
    if sentiment:
        votes = (_VOTES_LO[review_id & 0xFFFF] ^ _VOTES_HI[(review_id >> 16) & 0xFFFF]) & _M30
        record["sentiment"] = _sentiment(record["rating"], votes)
    return record


def _images(review_id: int, votes: int) -> list[str]:
    return [f"https://images.reviews.example/{review_id}/{n}.jpg" for n in range(1, 2 + (votes >> 15) % 3)]


def _sentiment(rating: int, votes: int) -> dict[str, Any]:
    spread = (votes >> 17) % 400
    if rating >= 4:
        return {"label": "positive", "score": (600 + spread) / 1000}
    if rating == 3:
        return {"label": "neutral", "score": (spread - 200) / 1000}
    return {"label": "negative", "score": -(600 + spread) / 1000}


def part(part_key: int) -> dict[str, Any]:
    h = _mix(part_key + 1_000_000_007)
    manufacturer = h % 5 + 1
    words: list[str] = []
    seed = h
    while len(words) < 5:  # five distinct colours, as TPC-H names parts
        seed = _mix(seed)
        if (word := COLORS[seed % len(COLORS)]) not in words:
            words.append(word)
    return {
        "part_key": part_key,
        "name": " ".join(words),
        "brand": f"Brand#{manufacturer}{(h >> 40) % 5 + 1}",
        "type": f"{TYPE_SIZES[(h >> 44) % 6]} {TYPE_FINISHES[(h >> 48) % 5]} {MATERIALS[(h >> 52) % 5]}",
        "size": (h >> 56) % 50 + 1,
        "retail_price": retail_price_cents(part_key) / 100,
    }
