"""What the handler threads share: the change log, the fault switches, the issued OAuth2 tokens and the
request counts. Each part guards itself with a lock of its own."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

from dptools.samples.reviews_api.changelog import ChangeLog
from dptools.samples.reviews_api.config import ReviewsApiConfig
from dptools.samples.reviews_api.faults import Faults
from dptools.samples.reviews_api.messages import Reply


class Tokens:
    """Access tokens from /oauth/token, each valid for `ttl_s` from its issue."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._expiries: dict[str, float] = {}

    def issue(self) -> str:
        token, now = secrets.token_urlsafe(24), time.monotonic()
        with self._lock:
            self._expiries = {t: expiry for t, expiry in self._expiries.items() if expiry > now}
            self._expiries[token] = now + self.ttl_s
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiries.get(token)
        return expiry is not None and time.monotonic() < expiry

    def revoke_all(self) -> None:
        """As a provider rotating its keys: every token issued so far is now stale."""
        with self._lock:
            self._expiries = {}


def _fresh_stats() -> dict[str, Any]:
    return {"requests": 0, "by_status": {}, "records_served": 0, "tokens_issued": 0}


class Stats:
    """What /_control/stats reads: requests (but /_control's) by status, records served, tokens issued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats = _fresh_stats()

    def count(self, reply: Reply) -> None:
        with self._lock:
            self._stats["requests"] += 1
            by_status = self._stats["by_status"]
            by_status[str(reply.status)] = by_status.get(str(reply.status), 0) + 1
            self._stats["records_served"] += reply.records

    def count_token(self) -> None:
        with self._lock:
            self._stats["tokens_issued"] += 1

    def read(self, reset: bool = False) -> dict[str, Any]:
        with self._lock:
            if reset:
                self._stats = _fresh_stats()
            return orjson.loads(orjson.dumps(self._stats))  # a copy, so no handler mutates it mid-write


@dataclass
class State:
    config: ReviewsApiConfig
    log: ChangeLog
    faults: Faults
    tokens: Tokens
    stats: Stats

    @classmethod
    def of(cls, config: ReviewsApiConfig) -> State:
        return cls(
            config,
            ChangeLog(config.total),
            Faults(config.rate_limit_per_s),
            Tokens(config.token_ttl_s),
            Stats(),
        )
