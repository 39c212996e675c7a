"""The change log the API pages through: runs of new reviews and runs of touches (updated versions of
earlier reviews), each run a few integers or a short list, so memory stays constant however many reviews
there are. Entry j is the j-th change, at `updated_at = EPOCH + j minutes`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dptools.samples.reviews_api.dataset import new_reviews, updated_review
from dptools.samples.reviews_api.messages import BadRequest


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
    """The first `total` entries are reviews 1..total; a touch appends an updated version of a review, and
    growing the total after touches appends the new reviews after them, so the log is append-only."""

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
