"""`dp ingest run` and `dp ingest backfill` refuse bad input with one clear line (exit 2) before any
work, and before they need the local stack; and the Batch job's entry point refuses it the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataplatform.api_ingest import batch
from dataplatform.settings import (
    DP_API_SOURCES,
    DP_EVENT_BUS,
    DP_INGEST_STATE_TABLE,
    DP_PROFILE,
    DP_RAW_BUCKET,
)
from dptools.cli.main import app
from dptools.local.paths import DP_LOCAL_DIR, api_sources_dir

WINDOW = ["--start", "2026-01-01T00:00:00Z", "--end", "2026-01-08T00:00:00Z"]


@pytest.fixture(autouse=True)
def no_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DP_LOCAL_DIR, str(tmp_path))  # no stack has ever run here


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nope", "reviews", *WINDOW], "no source definition 'nope'; known: review_history, reviews"),
        (
            ["run", "reviews", "nope", *WINDOW],
            "source 'reviews' has no endpoint 'nope'; it has: reviews, parts",
        ),
        (
            ["run", "reviews", "reviews", "--start", "2026-02-01", "--end", "2026-01-01"],
            "window: window start 2026-02-01T00:00:00Z is not before its end 2026-01-01T00:00:00Z",
        ),
        (
            ["run", "reviews", "reviews", "--start", "January", "--end", "2026-01-01"],
            "window.start: Input should be a valid datetime",
        ),
        (["run", "reviews", "reviews", "--start", "2026-01-01"], "give both --start and --end"),
        (["run", "reviews", "parts", *WINDOW], "endpoint 'parts' has no incremental cursor"),
        (["run", "reviews", "reviews", *WINDOW, "--chunk", "6h"], "--chunk '6h' is not an ISO-8601 duration"),
        (["run", "reviews", "reviews", *WINDOW], "the local stack is not up: run `dp stack up`"),
        (["backfill", "nope", *WINDOW], "no source definition 'nope'"),
        (
            ["backfill", "reviews", *WINDOW, "--runner", "ecs"],
            "--runner must be one of lambda, batch, not 'ecs'",
        ),
        (["backfill", "reviews", "--start", "2026-02-01", "--end", "2026-01-01"], "is not before its end"),
        (["backfill", "review_history", *WINDOW], "the local stack is not up: run `dp stack up`"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["ingest", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output


@pytest.mark.parametrize(
    ("event", "logged"),
    [
        ("{not json", "Invalid JSON"),
        ('{"source": "nope", "endpoint": "reviews", "scheduled_time": "2026-01-01"}', "no source definition"),
        (
            '{"source": "reviews", "endpoint": "parts", "window": {"start": "2026-01-01", "end": "2026-01-02"}}',
            "no incremental cursor",
        ),
        ('{"source": "reviews", "endpoint": "reviews"}', "give exactly one of scheduled_time"),
    ],
)
def test_the_batch_entry_point_exits_2_on_bad_input(
    event: str, logged: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit code 2 is what the job definition's retry strategy does not retry."""
    for name, value in {
        DP_PROFILE: "aws",
        DP_API_SOURCES: str(api_sources_dir()),
        DP_RAW_BUCKET: "raw",
        DP_EVENT_BUS: "bus",
        DP_INGEST_STATE_TABLE: "state",
        "DP_SOURCE_REVIEWS_URL": "https://reviews.example",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    errors: list[str] = []
    monkeypatch.setattr(batch.logger, "error", lambda message, *args: errors.append(message % args))
    assert batch.main(["--event", event]) == batch.BAD_INPUT
    assert len(errors) == 1 and logged in errors[0]
