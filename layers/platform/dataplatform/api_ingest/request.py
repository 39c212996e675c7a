"""What starts a run: a scheduled pull, or one backfill chunk; and the run id each one always gets.

EventBridge Scheduler delivers its target input as the event, with `<aws.scheduler.scheduled-time>`
filled in, so a run id made from the scheduled time is the same for every delivery of that firing
(retries, redrives, `dp invoke` replays). That is what makes a replay a no-op.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from dataplatform.api_ingest.definition import Endpoint


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    """The window's format on the wire and in run ids: ISO-8601 UTC with a Z."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


class Window(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError(f"window start {iso(self.start)} is not before its end {iso(self.end)}")
        return self


class IngestEvent(BaseModel):
    """The api_ingest function's event: `scheduled_time` for a scheduled pull, `window` for a backfill."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    source: str
    endpoint: str
    scheduled_time: datetime | None = None
    window: Window | None = None

    @field_validator("scheduled_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)

    @model_validator(mode="after")
    def _one_mode(self) -> IngestEvent:
        if (self.scheduled_time is None) == (self.window is None):
            raise ValueError("give exactly one of scheduled_time (a scheduled pull) or window (a backfill)")
        return self

    @property
    def mode(self) -> Literal["scheduled", "backfill"]:
        return "scheduled" if self.scheduled_time is not None else "backfill"

    @property
    def run_id(self) -> str:
        if self.window is not None:
            return f"{self.source}.{self.endpoint}.backfill.{iso(self.window.start)}.{iso(self.window.end)}"
        assert self.scheduled_time is not None
        return f"{self.source}.{self.endpoint}.scheduled.{iso(self.scheduled_time)}"


def scheduled_window(endpoint: Endpoint, watermark: str | None, scheduled_time: datetime) -> Window | None:
    """From the watermark less the overlap up to the scheduled time; None when that is empty."""
    assert endpoint.incremental is not None
    start = endpoint.incremental.initial_value
    if watermark is not None:
        start = utc(datetime.fromisoformat(watermark)) - endpoint.incremental.overlap
    if start >= scheduled_time:
        return None
    return Window(start=start, end=scheduled_time)


def backfill_chunks(endpoint: Endpoint, window: Window, step: timedelta | None = None) -> list[Window]:
    """The window cut at the endpoint's `backfill_chunk` (or `step`), so each invocation stays within
    Lambda's limits and each commit of a long job is a checkpoint."""
    if endpoint.incremental is None:
        raise ValueError(f"endpoint {endpoint.name!r} has no incremental cursor, so it cannot be backfilled")
    step = step or endpoint.incremental.backfill_chunk
    if step <= timedelta(0):
        raise ValueError(f"a chunk must be longer than zero, not {step}")
    chunks, start = [], window.start
    while start < window.end:
        end = min(start + step, window.end)
        chunks.append(Window(start=start, end=end))
        start = end
    return chunks
