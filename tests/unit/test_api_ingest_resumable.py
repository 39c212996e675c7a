"""The checkpoints of a long pull (dataplatform.api_ingest.resumable), with the state table on moto
in-process and each chunk's run replaced by a recorder (the runs themselves: tests/integration).

GIVEN a window cut into chunks,
WHEN the job stops after some chunks and is started again,
THEN it resumes after the last committed chunk, the cursor only moves forward, and a scheduled pull
is one run with the event as given.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from dataplatform.api_ingest import resumable
from dataplatform.api_ingest.definition import load_sources
from dataplatform.api_ingest.request import IngestEvent
from dataplatform.api_ingest.run import IngestDeps, IngestResult
from dataplatform.api_ingest.state import IngestState
from dataplatform.aws import client
from dataplatform.settings import Settings
from tests.conftest import ROOT

START, END = "2026-01-01T00:00:00Z", "2026-01-29T00:00:00Z"  # four chunks of reviews' 7 days
WINDOW = IngestEvent.model_validate(
    {"source": "reviews", "endpoint": "reviews", "window": {"start": START, "end": END}}
)


@pytest.fixture
def deps(mocked_aws: Settings) -> IngestDeps:
    dynamodb = client("dynamodb", mocked_aws)
    dynamodb.create_table(
        TableName="state",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    sources = load_sources(ROOT / "functions/api_ingest/sources", {"DP_SOURCE_REVIEWS_URL": "http://x"})
    fields: dict[str, Any] = dict.fromkeys(
        ("catalog", "s3", "secrets", "publisher", "raw_bucket", "secret_prefix")
    )
    return IngestDeps(state=IngestState(dynamodb, "state"), sources=sources, **fields)


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Callable[[int | None], list[IngestEvent]]:
    """Replace each chunk's run by a recorder that fails on the `fail_at`-th run (1-based)."""

    def recording(fail_at: int | None = None) -> list[IngestEvent]:
        seen: list[IngestEvent] = []

        def ingest(event: IngestEvent, deps: IngestDeps) -> IngestResult:
            seen.append(event)
            if len(seen) == fail_at:
                raise RuntimeError("killed")
            return IngestResult(event.run_id, "raw.reviews__reviews", "committed", 1, 10)

        monkeypatch.setattr(resumable, "ingest", ingest)
        return seen

    return recording


def test_a_restarted_window_resumes_after_its_last_committed_chunk(
    deps: IngestDeps, runs: Callable[[int | None], list[IngestEvent]]
) -> None:
    first = runs(3)
    with pytest.raises(RuntimeError, match="killed"):
        resumable.run_resumable(WINDOW, deps)
    assert len(first) == 3
    assert deps.state.backfill_cursor("reviews", "reviews", START, END) == "2026-01-15T00:00:00Z"

    second = runs(None)
    outcomes = resumable.run_resumable(WINDOW, deps)
    assert [o.status for o in outcomes] == ["before-cursor", "before-cursor", "committed", "committed"]
    assert [e.window for e in second] == [o.window for o in outcomes[2:]]
    assert [e.run_id for e in second] == [e.run_id for e in first[2:]] + [second[-1].run_id], (
        "the chunk that failed runs again under its own run id, so a commit it made is recognised"
    )
    assert deps.state.backfill_cursor("reviews", "reviews", START, END) == END
    assert deps.state.watermark("reviews", "reviews") is None


def test_the_cursor_only_moves_forward(deps: IngestDeps) -> None:
    state = deps.state
    assert state.advance_backfill_cursor("reviews", "reviews", START, END, "2026-01-15T00:00:00Z", "r2")
    assert not state.advance_backfill_cursor("reviews", "reviews", START, END, "2026-01-08T00:00:00Z", "r1")
    assert state.backfill_cursor("reviews", "reviews", START, END) == "2026-01-15T00:00:00Z"
    assert state.backfill_cursor("reviews", "reviews", START, "2026-02-01T00:00:00Z") is None, (
        "one per window"
    )


def test_a_shorter_chunk_checkpoints_more_often(
    deps: IngestDeps, runs: Callable[[int | None], list[IngestEvent]]
) -> None:
    seen = runs(None)
    resumable.run_resumable(WINDOW, deps, chunk=timedelta(days=1))
    assert len(seen) == 28


def test_a_scheduled_pull_is_one_run_of_the_event_itself(
    deps: IngestDeps, runs: Callable[[int | None], list[IngestEvent]]
) -> None:
    seen = runs(None)
    event = IngestEvent.model_validate({"source": "reviews", "endpoint": "reviews", "scheduled_time": END})
    outcomes = resumable.run_resumable(event, deps)
    assert seen == [event] and [(o.number, o.total, o.window) for o in outcomes] == [(1, 1, None)]
