"""An ingestion that may outlast one Lambda: the Batch job's and `dp ingest run`'s, resumable after a kill.

A window is cut at the endpoint's `backfill_chunk`, and each chunk is one ordinary run (`run.ingest`, the
code the Lambda runs, with the chunk's own run id). After a chunk's commit the window's backfill cursor
moves to the chunk's end. Started again with the same window after a kill, the job skips the chunks up
to the cursor; a chunk that committed before the cursor moved is recognised by its run id and only
finished; one that never committed is pulled again, its orphaned files never having joined the table.
The live watermark is not touched, as for any backfill.

A scheduled pull (no window) is one run, exactly as the Lambda's: the same run id and watermark rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dataplatform.api_ingest.request import IngestEvent, Window, backfill_chunks, iso, utc
from dataplatform.api_ingest.run import IngestDeps, IngestResult, ingest


@dataclass(frozen=True)
class ChunkOutcome:
    """One chunk of a job (the only one of a scheduled pull), as it is done."""

    number: int
    total: int
    window: Window | None  # None: a scheduled pull, whose window the watermark decides
    result: IngestResult | None  # None: the cursor was already past it

    @property
    def status(self) -> str:
        return self.result.status if self.result else "before-cursor"

    @property
    def record_count(self) -> int:
        return self.result.record_count if self.result else 0


Progress = Callable[[ChunkOutcome], None]


def check_event(event: IngestEvent, deps: IngestDeps, chunk: timedelta | None = None) -> list[Window]:
    """The event's chunks (none for a scheduled pull), or DefinitionError / ValueError before any work."""
    endpoint = deps.source(event.source).endpoint(event.endpoint)
    return backfill_chunks(endpoint, event.window, chunk) if event.window else []


def run_resumable(
    event: IngestEvent,
    deps: IngestDeps,
    progress: Progress = lambda _: None,
    chunk: timedelta | None = None,
) -> list[ChunkOutcome]:
    """Run `event` to its end, from the last committed chunk of its window; `chunk` overrides the
    endpoint's `backfill_chunk`."""
    chunks = check_event(event, deps, chunk)
    if event.window is None:
        outcome = ChunkOutcome(1, 1, None, ingest(event, deps))
        progress(outcome)
        return [outcome]
    start, end = iso(event.window.start), iso(event.window.end)
    state = deps.state
    cursor = state.backfill_cursor(event.source, event.endpoint, start, end)
    done_until = utc(datetime.fromisoformat(cursor)) if cursor else None
    outcomes = []
    for number, part in enumerate(chunks, 1):
        if done_until is not None and part.end <= done_until:
            outcome = ChunkOutcome(number, len(chunks), part, None)
        else:
            chunk_event = IngestEvent(source=event.source, endpoint=event.endpoint, window=part)
            result = ingest(chunk_event, deps)
            state.advance_backfill_cursor(
                event.source, event.endpoint, start, end, iso(part.end), result.run_id
            )
            outcome = ChunkOutcome(number, len(chunks), part, result)
        progress(outcome)
        outcomes.append(outcome)
    return outcomes
