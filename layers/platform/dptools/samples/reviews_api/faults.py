"""The switches of /_control/faults: 5xx answers, slow answers, truncated JSON and schema drift, each
counting down per /v1 request it acts on, and the rate limit."""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pyrate_limiter import Decision, Duration, Rate, RateItem, StateBucket, TokenBucket

from dptools.samples.reviews_api.messages import BadRequest, Reply, count, error_reply, seconds

FAILURES = (503, 500, 502)  # a failing request gets the next of these, in turn


@dataclass
class _Switches:
    fail_5xx: int = 0
    slow: int = 0
    delay_s: float = 0.0
    malformed: int = 0
    drift_from_entry: int | None = None


SWITCHES = {f.name for f in dataclasses.fields(_Switches)} | {"rate_limit_per_s", "revoke_tokens", "reset"}


class RateLimit:
    """`per_second` requests a second in bursts of up to a second's worth: pyrate-limiter's token bucket,
    asked directly (not through a Limiter) because a refusal needs the wait, for Retry-After."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        # `numerator` requests per `denominator` seconds; one in a million seconds at the least
        share = max(Fraction(1, 1_000_000), Fraction(per_second).limit_denominator(1_000_000))
        rate = Rate(share.numerator, Duration.SECOND * share.denominator, burst=max(1, int(per_second)))
        self._bucket = StateBucket([rate], TokenBucket())

    def retry_after_s(self) -> int | None:
        """None when a request may go now (it is counted), else the whole seconds until one could."""
        decision = self._bucket.put_decision(RateItem("reviews-api", self._bucket.now()))
        assert isinstance(decision, Decision)  # an in-memory bucket decides at once
        if decision.allowed:
            return None
        return max(1, math.ceil((decision.retry_after_ms or 0) / 1000))


class Faults:
    """The switches and the rate limit, shared by the handler threads (`set` and `take` under one lock)."""

    def __init__(self, rate_limit_per_s: float | None) -> None:
        self._configured_rate = rate_limit_per_s
        self._lock = threading.Lock()
        self._switches = _Switches()
        self._limit = _rate_limit(rate_limit_per_s)
        self._failures = itertools.cycle(FAILURES)

    @property
    def drift_from_entry(self) -> int | None:
        return self._switches.drift_from_entry

    def throttle(self) -> Reply | None:
        """The 429 to send when over the rate limit, else None."""
        with self._lock:
            wait = self._limit.retry_after_s() if self._limit else None
        if wait is None:
            return None
        return error_reply(
            429, "rate_limited", f"over the rate limit; retry after {wait}s", {"Retry-After": str(wait)}
        )

    def take(self) -> tuple[float, int | None, bool]:
        """(delay, 5xx status or None, truncate) for one /v1 request; each switch counts down as it acts."""
        with self._lock:
            switches = self._switches
            delay = 0.0
            if switches.slow:
                switches.slow -= 1
                delay = switches.delay_s
            if switches.fail_5xx:
                switches.fail_5xx -= 1
                return delay, next(self._failures), False
            if switches.malformed:
                switches.malformed -= 1
                return delay, None, True
            return delay, None, False

    def set(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply the switches all or none, and read them; `reset` first clears every fault and restores the
        configured rate limit. `revoke_tokens` is the token store's to act on."""
        if unknown := sorted(set(changes) - SWITCHES):
            raise BadRequest(f"unknown fault switches {unknown}")
        with self._lock:
            reset = bool(changes.get("reset"))
            switches = _Switches() if reset else dataclasses.replace(self._switches)
            limit = _rate_limit(self._configured_rate) if reset else self._limit
            for name in ("fail_5xx", "slow", "malformed"):
                if name in changes:
                    setattr(switches, name, count(changes[name], name))
            if "delay_s" in changes:
                switches.delay_s = seconds(changes["delay_s"], "delay_s")
            if "drift_from_entry" in changes:
                k = changes["drift_from_entry"]
                switches.drift_from_entry = None if k is None else count(k, "drift_from_entry")
            if "rate_limit_per_s" in changes:
                rate = changes["rate_limit_per_s"]
                limit = _rate_limit(seconds(rate, "rate_limit_per_s") if rate else None)
            self._switches, self._limit = switches, limit
            return {**dataclasses.asdict(switches), "rate_limit_per_s": limit.per_second if limit else None}


def _rate_limit(per_second: float | None) -> RateLimit | None:
    return RateLimit(per_second) if per_second else None
