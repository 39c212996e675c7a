"""A third-party REST API of product reviews (TPC-H parts reviewed by TPC-H customers), for ingestion to pull.

The data is an append-only change log of entries, one a minute from EPOCH: entry j has
`updated_at = EPOCH + j minutes`, so an `updated_since` / `updated_before` window (since <= updated_at <
before) is an index range found by arithmetic. The first `total` entries are the reviews themselves (entry
j is review j + 1); a touch appends an updated version of a review (new rating and helpful votes, same
`created_at`); growing the total after touches appends the new reviews after them, so the log stays
append-only. Every record is computed from its ids on demand: memory stays constant however large `total`.

The same window, five ways (`limit` / `per_page` default 100, capped at 5000):

    GET /v1/reviews            ?limit&cursor       {"data": [...], "meta": {"next_cursor": str | null}}
    GET /v1/reviews/by-link    ?limit&page_token   {"results": [...], "links": {"next": url | null}}
    GET /v1/reviews/by-header  ?limit&page_token   [...], and `Link: <url>; rel="next"` but on the last page
    GET /v1/reviews/by-offset  ?offset&limit       {"items": [...], "total": n}
    GET /v1/reviews/by-page    ?page&per_page      {"data": [...], "page", "per_page", "total_pages", "total"}
    GET /v1/parts                                  {"parts": [500 parts]}, one page
    GET /health                                    {"status": "ok"}, no auth
    POST /oauth/token          client credentials  {"access_token", "token_type": "Bearer", "expires_in"}

Every /v1 endpoint takes an API key (`X-API-Key` or `?api_key=`), the static bearer token, HTTP Basic, or
a token from `/oauth/token` (client id and secret in the form or as Basic) until it expires. A /v1 request
meets the rate limit (429 with Retry-After; /oauth/token is limited too), then auth (401), then the fault
switches, each counting down per request it acts on (a slow answer may also fail; a failed one is not also
truncated).

`/_control` (no auth: this is a test server for loopback, never to be exposed):
`POST /_control/dataset {"total": n, "touch": [review_id, ...]}`, `POST /_control/faults {"fail_5xx": n,
"slow": n, "delay_s": x, "malformed": n, "drift_from_entry": k, "rate_limit_per_s": r, "reset": true}`,
`GET /_control/stats`, `POST /_control/stats/reset`; GET on dataset and faults reads them.

In-process: `with ReviewsApi(ReviewsApiConfig(total=500)) as api: requests.get(f"{api.url}/health")`.
As a process: `python -m dptools.samples.reviews_api --port 0 --port-file PATH [--total N ...]`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import dataclasses
import hashlib
import hmac
import itertools
import logging
import math
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import orjson

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ENTRY_SPACING_S, ENTRIES_PER_DAY = 60, 1440
DEFAULT_LIMIT, MAX_LIMIT = 100, 5000
PART_KEYS, CUSTOMER_KEYS = 200_000, 150_000  # TPC-H SF1
PARTS_LISTED = 500
IDLE_CONNECTION_S = 60.0
SHUTDOWN_POLL_S = 0.05  # how soon stop() takes effect

NATIONS = (
    "ALGERIA", "ARGENTINA", "BRAZIL", "CANADA", "EGYPT", "ETHIOPIA", "FRANCE", "GERMANY", "INDIA",
    "INDONESIA", "IRAN", "IRAQ", "JAPAN", "JORDAN", "KENYA", "MOROCCO", "MOZAMBIQUE", "PERU", "CHINA",
    "ROMANIA", "SAUDI ARABIA", "VIETNAM", "RUSSIA", "UNITED KINGDOM", "UNITED STATES",
)  # fmt: skip
COLORS = (
    "almond", "antique", "aquamarine", "azure", "beige", "bisque", "black", "blanched", "blue", "blush",
    "brown", "burlywood", "burnished", "chartreuse", "chiffon", "chocolate", "coral", "cornflower",
    "cornsilk", "cream", "cyan", "dark", "deep", "dim", "dodger", "drab", "firebrick", "floral", "forest",
    "frosted", "gainsboro", "ghost", "goldenrod", "green", "grey", "honeydew", "hot", "indian", "ivory",
    "khaki", "lace", "lavender", "lawn", "lemon", "light", "lime", "linen", "magenta", "maroon", "medium",
    "metallic", "midnight", "mint", "misty", "moccasin", "navajo", "navy", "olive", "orange", "orchid",
    "pale", "papaya", "peach", "peru", "pink", "plum", "powder", "puff", "purple", "red", "rose", "rosy",
    "royal", "saddle", "salmon", "sandy", "seashell", "sienna", "sky", "slate", "smoke", "snow", "spring",
    "steel", "tan", "thistle", "tomato", "turquoise", "violet", "wheat", "white", "yellow",
)  # fmt: skip
TYPE_SIZES = ("STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO")
TYPE_FINISHES = ("ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED")
MATERIALS = ("TIN", "NICKEL", "BRASS", "STEEL", "COPPER")
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


def retail_price_cents(part_key: int) -> int:
    """TPC-H's P_RETAILPRICE formula, in cents."""
    return 90_000 + (part_key // 10) % 20_001 + 100 * (part_key % 1000)


def new_reviews(first_review_id: int, first_entry: int, count: int, drift_from: int) -> list[dict[str, Any]]:
    """Reviews `first_review_id`.. as first written, as entries `first_entry`..; from entry `drift_from` on
    they carry `sentiment`.

    The hot path of every page, so one loop of lookups and small-integer arithmetic, no calls per record.
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
        retail_cents = 90_000 + (part_key // 10) % 20_001 + 100 * (part_key % 1000)  # retail_price_cents
        record = {
            "review_id": review_id,
            "part_key": part_key,
            "customer_key": customer_key,
            "rating": rating,
            "title": TITLES[rating - 1][(traits >> 4) & 15],
            "body": BODIES[(traits >> 8) & 1023],
            "helpful_votes": (votes & 63) * (votes & 63) // 64,
            "verified_purchase": (traits >> 26) & 7 != 0,
            "price_paid": retail_cents * (100 - ((votes >> 6) & 31)) // 100 / 100,
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


@dataclass
class _NewReviews:
    start: int
    first_review_id: int
    count: int


@dataclass
class _Touches:
    start: int
    review_ids: list[int]


class ChangeLog:
    """The entries: runs of new reviews and runs of touches, each run a few integers or a short list."""

    def __init__(self, total: int) -> None:
        self._lock = threading.Lock()
        self._runs: list[_NewReviews | _Touches] = [_NewReviews(0, 1, total)]
        self.total = total
        self.touched = 0

    @property
    def entries(self) -> int:
        return self.total + self.touched

    def set_total(self, total: int) -> None:
        """More reviews are appended to the log; fewer starts a new dataset of `total` (touches dropped)."""
        with self._lock:
            if total < self.total:
                self._runs, self.total, self.touched = [_NewReviews(0, 1, total)], total, 0
                return
            last = self._runs[-1]
            if isinstance(last, _NewReviews):
                last.count += total - self.total
            else:
                self._runs.append(_NewReviews(self.entries, self.total + 1, total - self.total))
            self.total = total

    def touch(self, review_ids: Sequence[int]) -> None:
        with self._lock:
            unknown = [r for r in review_ids if not 1 <= r <= self.total]
            if unknown:
                raise BadRequest(f"no reviews with ids {unknown[:5]}")
            last = self._runs[-1]
            if isinstance(last, _Touches):
                last.review_ids.extend(review_ids)
            else:
                self._runs.append(_Touches(self.entries, list(review_ids)))
            self.touched += len(review_ids)

    def _created_entry(self, review_id: int) -> int:
        for run in self._runs:
            if (
                isinstance(run, _NewReviews)
                and run.first_review_id <= review_id < run.first_review_id + run.count
            ):
                return run.start + review_id - run.first_review_id
        raise KeyError(review_id)

    def records(self, lo: int, hi: int, drift_from: int | None) -> list[dict[str, Any]]:
        """Entries lo..hi-1; those at or after `drift_from` carry `sentiment`."""
        drift = sys.maxsize if drift_from is None else drift_from
        out: list[dict[str, Any]] = []
        with self._lock:
            for run in self._runs:
                if isinstance(run, _NewReviews):
                    first, end = max(lo, run.start), min(hi, run.start + run.count)
                    if first < end:
                        out += new_reviews(run.first_review_id + first - run.start, first, end - first, drift)
                else:
                    first, end = max(lo, run.start), min(hi, run.start + len(run.review_ids))
                    for e in range(first, end):
                        review_id = run.review_ids[e - run.start]
                        out.append(updated_review(review_id, self._created_entry(review_id), e, e >= drift))
        return out

    def state(self) -> dict[str, int]:
        return {"total": self.total, "touched": self.touched, "entries": self.entries}


@dataclass(frozen=True)
class ReviewsApiConfig:
    total: int = 10_000
    api_key: str = "local-api-key"
    client_id: str = "local-client"
    client_secret: str = "local-secret"
    bearer_token: str = "local-bearer-token"
    basic_user: str = "local-user"
    basic_password: str = "local-password"
    token_ttl_s: float = 3600.0
    rate_limit_per_s: float | None = None
    auth: bool = True


class BadRequest(Exception):
    pass


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    records: int = 0


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None, records: int = 0) -> _Reply:
    return _Reply(status, orjson.dumps(payload), headers or {}, records)


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> _Reply:
    return _json(status, {"error": code, "message": message}, headers)


class _TokenBucket:
    """`rate` requests a second, in bursts of up to a second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate, self.capacity = rate, max(1.0, rate)
        self.tokens, self.at = self.capacity, time.monotonic()

    def take(self) -> float:
        """0 when the request may go, else the seconds until it could."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class _Faults:
    fail_5xx: int = 0
    slow: int = 0
    delay_s: float = 0.0
    malformed: int = 0
    drift_from_entry: int | None = None


def _count(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{name} must be an integer >= 0")
    return value


def _seconds(value: Any, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{name} must be a number >= 0")
    return float(value)


def _fresh_stats() -> dict[str, Any]:
    return {"requests": 0, "by_status": {}, "records_served": 0, "tokens_issued": 0}


class _State:
    """What the handler threads share; every mutation is under `lock` or the log's own lock."""

    def __init__(self, config: ReviewsApiConfig) -> None:
        self.config = config
        self.log = ChangeLog(config.total)
        self.lock = threading.Lock()
        self.faults = _Faults()
        self.bucket = self._configured_bucket()
        self.tokens: dict[str, float] = {}
        self.stats = _fresh_stats()
        self.failures = itertools.cycle((503, 500, 502))

    def read_stats(self, reset: bool = False) -> dict[str, Any]:
        with self.lock:
            if reset:
                self.stats = _fresh_stats()
            return orjson.loads(orjson.dumps(self.stats))  # a copy, so no handler mutates it mid-write

    def count(self, reply: _Reply) -> None:
        with self.lock:
            self.stats["requests"] += 1
            by_status = self.stats["by_status"]
            by_status[str(reply.status)] = by_status.get(str(reply.status), 0) + 1
            self.stats["records_served"] += reply.records

    def throttle(self) -> _Reply | None:
        with self.lock:
            wait = self.bucket.take() if self.bucket else 0.0
        if not wait:
            return None
        retry_after = str(max(1, math.ceil(wait)))
        return _error(
            429,
            "rate_limited",
            f"over the rate limit; retry after {retry_after}s",
            {"Retry-After": retry_after},
        )

    def issue_token(self) -> tuple[str, float]:
        token, now = secrets.token_urlsafe(24), time.monotonic()
        with self.lock:
            self.tokens = {t: expiry for t, expiry in self.tokens.items() if expiry > now}
            self.tokens[token] = now + self.config.token_ttl_s
            self.stats["tokens_issued"] += 1
        return token, self.config.token_ttl_s

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expiry = self.tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def take_faults(self) -> tuple[float, int | None, bool]:
        """(delay, 5xx status or None, truncate) for one /v1 request; each switch counts down as it acts."""
        with self.lock:
            faults = self.faults
            delay = 0.0
            if faults.slow:
                faults.slow -= 1
                delay = faults.delay_s
            if faults.fail_5xx:
                faults.fail_5xx -= 1
                return delay, next(self.failures), False
            if faults.malformed:
                faults.malformed -= 1
                return delay, None, True
            return delay, None, False

    def set_faults(self, switches: Mapping[str, Any]) -> dict[str, Any]:
        """Apply the switches all or none; `reset` first clears every fault and restores the configured
        rate limit."""
        known = {
            "fail_5xx",
            "slow",
            "delay_s",
            "malformed",
            "drift_from_entry",
            "rate_limit_per_s",
            "revoke_tokens",
            "reset",
        }
        if unknown := sorted(set(switches) - known):
            raise BadRequest(f"unknown fault switches {unknown}")
        with self.lock:
            reset = bool(switches.get("reset"))
            faults = _Faults() if reset else dataclasses.replace(self.faults)
            bucket = self._configured_bucket() if reset else self.bucket
            for name in ("fail_5xx", "slow", "malformed"):
                if name in switches:
                    setattr(faults, name, _count(switches[name], name))
            if "delay_s" in switches:
                faults.delay_s = _seconds(switches["delay_s"], "delay_s")
            if "drift_from_entry" in switches:
                k = switches["drift_from_entry"]
                faults.drift_from_entry = None if k is None else _count(k, "drift_from_entry")
            if "rate_limit_per_s" in switches:
                rate = switches["rate_limit_per_s"]
                bucket = _TokenBucket(_seconds(rate, "rate_limit_per_s")) if rate else None
            if switches.get("revoke_tokens"):  # as a provider rotating its keys: every token is now stale
                self.tokens = {}
            self.faults, self.bucket = faults, bucket
            return {**dataclasses.asdict(faults), "rate_limit_per_s": bucket.rate if bucket else None}

    def _configured_bucket(self) -> _TokenBucket | None:
        rate = self.config.rate_limit_per_s
        return _TokenBucket(rate) if rate else None


def _param(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int_param(query: Mapping[str, list[str]], name: str, default: int, minimum: int) -> int:
    raw = _param(query, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < minimum:
        raise BadRequest(f"{name} must be >= {minimum}")
    return value


def _limit(query: Mapping[str, list[str]], name: str) -> int:
    return min(MAX_LIMIT, _int_param(query, name, DEFAULT_LIMIT, 1))


def _moment(query: Mapping[str, list[str]], name: str) -> datetime | None:
    raw = _param(query, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(
            re.sub(r"(T[\d:.]+) (\d\d:?\d\d)$", r"\1+\2", raw)
        )  # an unescaped "+" is " "
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _window(query: Mapping[str, list[str]], entries: int) -> tuple[int, int]:
    """The entries with updated_since <= updated_at < updated_before, as an index range."""
    since, before = _moment(query, "updated_since"), _moment(query, "updated_before")
    lo = min(entries, entry_at(since)) if since else 0
    hi = min(entries, entry_at(before)) if before else entries
    return lo, max(lo, hi)


def encode_position(entry: int) -> str:
    return base64.urlsafe_b64encode(f"entry:{entry}".encode()).decode().rstrip("=")


def decode_position(token: str, name: str) -> int:
    try:
        kind, _, entry = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
        if kind == "entry" and entry.isdigit():
            return int(entry)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadRequest(f"{name} is not one this API issued")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        super().__init__(address, _Handler)
        host, port = self.socket.getsockname()[:2]
        self.address: tuple[str, int] = (str(host), int(port))
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End the keep-alive connections too, so a stopped server answers nothing."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (as one does on a slow answer) is no error; anything else is logged."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            logging.getLogger(__name__).exception("error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ReviewsApi/1.0"
    disable_nagle_algorithm = True
    timeout = IDLE_CONNECTION_S

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: this is on the hot path."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    @property
    def state(self) -> _State:
        return cast(_Server, self.server).state

    def _dispatch(self, method: str) -> None:
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            self.send_error(400, "bad Content-Length")  # the body cannot be skipped: the connection closes
            return
        body = self.rfile.read(int(length)) if int(length) else b""
        url = urlsplit(self.path)
        route = ROUTES.get((method, url.path))
        try:
            query = parse_qs(url.query)
            if route is not None:
                reply = route(self, query, body)
            elif allowed := [m for m, path in ROUTES if path == url.path]:
                reply = _error(
                    405, "method_not_allowed", f"{url.path} takes {allowed}", {"Allow": ", ".join(allowed)}
                )
            else:
                reply = _error(404, "not_found", f"no resource {url.path}")
        except BadRequest as bad:
            reply = _error(400, "bad_request", str(bad))
        if not url.path.startswith("/_control"):
            self.state.count(reply)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _authorization(self) -> tuple[str, str]:
        scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
        return scheme.lower(), credentials.strip()

    def _unauthorized(self, query: Mapping[str, list[str]]) -> _Reply | None:
        """None when any accepted credential is present and right, else the 401 to send."""
        config = self.state.config
        if not config.auth:
            return None
        key = self.headers.get("X-API-Key") or _param(query, "api_key")
        if key is not None and hmac.compare_digest(key.encode(), config.api_key.encode()):
            return None
        scheme, credentials = self._authorization()
        if scheme == "bearer":
            if hmac.compare_digest(
                credentials.encode(), config.bearer_token.encode()
            ) or self.state.token_valid(credentials):
                return None
            challenge = (
                'Bearer error="invalid_token", error_description="The access token expired or is unknown"'
            )
            return _error(
                401,
                "invalid_token",
                "the access token expired or is unknown",
                {"WWW-Authenticate": challenge},
            )
        if scheme == "basic" and _basic(credentials) == (config.basic_user, config.basic_password):
            return None
        return _error(
            401,
            "unauthorized",
            "credentials missing or wrong",
            {"WWW-Authenticate": 'Bearer realm="reviews"'},
        )

    def _guarded(self, query: Mapping[str, list[str]], serve: Callable[[], _Reply]) -> _Reply:
        """A /v1 request: rate limit, then auth, then the fault switches, then the page."""
        refused = self.state.throttle() or self._unauthorized(query)
        if refused:
            return refused
        delay, failure, truncate = self.state.take_faults()
        if delay:
            time.sleep(delay)
        if failure:
            return _error(failure, "unavailable", "the service failed; try again")
        reply = serve()
        if truncate:
            return _Reply(reply.status, reply.body[: max(1, len(reply.body) // 2)], reply.headers)
        return reply

    def _window(self, query: Mapping[str, list[str]]) -> tuple[int, int]:
        return _window(query, self.state.log.entries)

    def _records(self, start: int, end: int) -> list[dict[str, Any]]:
        return self.state.log.records(start, end, self.state.faults.drift_from_entry)

    def _next_url(self, name: str, token: str) -> str:
        """This request's URL, all its parameters kept, with `name` set to `token`."""
        url = urlsplit(self.path)
        pairs = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != name]
        host = self.headers.get("Host") or "{}:{}".format(*cast(_Server, self.server).address)
        return f"http://{host}{url.path}?{urlencode([*pairs, (name, token)])}"

    def _positioned_page(
        self, query: Mapping[str, list[str]], name: str
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page from the position token in parameter `name`, and the next page's position if any."""
        lo, hi = self._window(query)
        token = _param(query, name)
        start = max(lo, decode_position(token, name) if token else 0)
        end = max(start, min(hi, start + _limit(query, "limit")))
        return self._records(start, end), end if end < hi else None

    def reviews_by_cursor(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        def serve() -> _Reply:
            records, end = self._positioned_page(query, "cursor")
            meta = {"next_cursor": None if end is None else encode_position(end)}
            return _json(200, {"data": records, "meta": meta}, records=len(records))

        return self._guarded(query, serve)

    def reviews_by_link(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        def serve() -> _Reply:
            records, end = self._positioned_page(query, "page_token")
            links = {"next": None if end is None else self._next_url("page_token", encode_position(end))}
            return _json(200, {"results": records, "links": links}, records=len(records))

        return self._guarded(query, serve)

    def reviews_by_header(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        def serve() -> _Reply:
            records, end = self._positioned_page(query, "page_token")
            next_url = None if end is None else self._next_url("page_token", encode_position(end))
            return _json(
                200, records, {"Link": f'<{next_url}>; rel="next"'} if next_url else {}, len(records)
            )

        return self._guarded(query, serve)

    def reviews_by_offset(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        def serve() -> _Reply:
            lo, hi = self._window(query)
            start = lo + _int_param(query, "offset", 0, 0)
            records = self._records(start, min(hi, start + _limit(query, "limit")))
            return _json(200, {"items": records, "total": hi - lo}, records=len(records))

        return self._guarded(query, serve)

    def reviews_by_page(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        def serve() -> _Reply:
            page, per_page = _int_param(query, "page", 1, 1), _limit(query, "per_page")
            lo, hi = self._window(query)
            start = lo + (page - 1) * per_page
            records = self._records(start, min(hi, start + per_page))
            payload = {
                "data": records,
                "page": page,
                "per_page": per_page,
                "total_pages": -(-(hi - lo) // per_page),
                "total": hi - lo,
            }
            return _json(200, payload, records=len(records))

        return self._guarded(query, serve)

    def parts(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        return self._guarded(query, lambda: _Reply(200, PARTS_BODY, records=PARTS_LISTED))

    def health(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        return _json(200, {"status": "ok"})

    def oauth_token(self, query: Mapping[str, list[str]], body: bytes) -> _Reply:
        refused = self.state.throttle()
        if refused:
            return refused
        form = parse_qs(body.decode("utf-8", "replace"))
        grant = _param(form, "grant_type")
        if grant != "client_credentials":
            code = "invalid_request" if grant is None else "unsupported_grant_type"
            return _json(400, {"error": code, "error_description": "grant_type must be client_credentials"})
        scheme, credentials = self._authorization()
        client = (
            _basic(credentials)
            if scheme == "basic"
            else (_param(form, "client_id"), _param(form, "client_secret"))
        )
        config = self.state.config
        if client != (config.client_id, config.client_secret):
            payload = {"error": "invalid_client", "error_description": "unknown client or wrong secret"}
            return _json(401, payload, {"WWW-Authenticate": 'Basic realm="reviews"'})
        token, ttl = self.state.issue_token()
        expires_in = int(ttl) if float(ttl).is_integer() else ttl
        return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": expires_in})

    def control_dataset(self, query: Mapping[str, list[str]], body: bytes) -> _Reply:
        """`total` first, then `touch`, so one call can grow the dataset and touch the new reviews."""
        change = _control_body(body)
        if unknown := sorted(set(change) - {"total", "touch"}):
            raise BadRequest(f"unknown dataset fields {unknown}")
        total = _count(change["total"], "total") if "total" in change else None
        touched = change.get("touch", [])
        if not isinstance(touched, list):
            raise BadRequest("touch must be a list of review ids")
        review_ids = [_count(i, "review id") for i in touched]
        if total is not None:
            self.state.log.set_total(total)
        if review_ids:
            self.state.log.touch(review_ids)
        return _json(200, self.state.log.state())

    def control_dataset_state(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        return _json(200, self.state.log.state())

    def control_faults(self, query: Mapping[str, list[str]], body: bytes) -> _Reply:
        return _json(200, self.state.set_faults(_control_body(body)))

    def control_faults_state(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        return _json(200, self.state.set_faults({}))  # no switches: reads them

    def control_stats(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        return _json(200, self.state.read_stats())

    def control_stats_reset(self, query: Mapping[str, list[str]], _: bytes) -> _Reply:
        return _json(200, self.state.read_stats(reset=True))


def _basic(credentials: str) -> tuple[str, str] | None:
    try:
        user, sep, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _control_body(body: bytes) -> dict[str, Any]:
    try:
        change = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(change, dict):
        raise BadRequest("the body must be a JSON object")
    return change


_Route = Callable[[_Handler, Mapping[str, list[str]], bytes], _Reply]
ROUTES: dict[tuple[str, str], _Route] = {
    ("GET", "/v1/reviews"): _Handler.reviews_by_cursor,
    ("GET", "/v1/reviews/by-link"): _Handler.reviews_by_link,
    ("GET", "/v1/reviews/by-header"): _Handler.reviews_by_header,
    ("GET", "/v1/reviews/by-offset"): _Handler.reviews_by_offset,
    ("GET", "/v1/reviews/by-page"): _Handler.reviews_by_page,
    ("GET", "/v1/parts"): _Handler.parts,
    ("GET", "/health"): _Handler.health,
    ("POST", "/oauth/token"): _Handler.oauth_token,
    ("GET", "/_control/dataset"): _Handler.control_dataset_state,
    ("POST", "/_control/dataset"): _Handler.control_dataset,
    ("GET", "/_control/faults"): _Handler.control_faults_state,
    ("POST", "/_control/faults"): _Handler.control_faults,
    ("GET", "/_control/stats"): _Handler.control_stats,
    ("POST", "/_control/stats/reset"): _Handler.control_stats_reset,
}
PARTS_BODY = orjson.dumps({"parts": [part(k) for k in range(1, PARTS_LISTED + 1)]})


class ReviewsApi:
    """The API, bound at construction; `start()` (or `with`) serves it on a daemon thread."""

    def __init__(
        self, config: ReviewsApiConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or ReviewsApiConfig()
        self._server = _Server((host, port), _State(self.config))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.address[1]

    @property
    def url(self) -> str:
        host, port = self._server.address
        return f"http://{host}:{port}"

    def start(self) -> ReviewsApi:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_S,), name="reviews-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> ReviewsApi:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def config_from_args(args: argparse.Namespace) -> ReviewsApiConfig:
    return ReviewsApiConfig(
        total=args.total,
        api_key=args.api_key,
        client_id=args.client_id,
        client_secret=args.client_secret,
        bearer_token=args.bearer_token,
        basic_user=args.basic_user,
        basic_password=args.basic_password,
        token_ttl_s=args.token_ttl_s,
        rate_limit_per_s=args.rate_limit_per_s,
        auth=not args.no_auth,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = ReviewsApiConfig()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="written with the port once listening")
    parser.add_argument("--total", type=int, default=defaults.total)
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--client-id", default=defaults.client_id)
    parser.add_argument("--client-secret", default=defaults.client_secret)
    parser.add_argument("--bearer-token", default=defaults.bearer_token)
    parser.add_argument("--basic-user", default=defaults.basic_user)
    parser.add_argument("--basic-password", default=defaults.basic_password)
    parser.add_argument("--token-ttl-s", type=float, default=defaults.token_ttl_s)
    parser.add_argument("--rate-limit-per-s", type=float, default=defaults.rate_limit_per_s)
    parser.add_argument("--no-auth", action="store_true", help="serve /v1 without any credentials")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    api = ReviewsApi(config_from_args(args), host=args.host, port=args.port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    api.start()
    if args.port_file:
        partial = args.port_file.with_name(args.port_file.name + ".tmp")
        partial.write_text(str(api.port))
        os.replace(partial, args.port_file)
    stopping.wait()
    api.stop()


if __name__ == "__main__":
    main()
