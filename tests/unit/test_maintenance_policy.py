"""The pure parts of table maintenance: which tables, which CALLs, which errors are worth a retry."""

import importlib.util
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest

from dataplatform.maintenance.policy import (
    MaintenanceError,
    MaintenancePolicy,
    expire_snapshots_sql,
    first_line,
    is_commit_conflict,
    match_tables,
    qualified,
    retain_last_protecting_streams,
    retry_on_conflict,
    rewrite_data_files_sql,
    split_pattern,
)
from dataplatform.spark.session import CATALOG

ROOT = Path(__file__).resolve().parents[2]


def _py4j(java_error: str) -> str:
    """How a failed `spark.sql(CALL ...)` reads when PySpark does not convert the JVM error."""
    return (
        "An error occurred while calling o67.sql.\n"
        f": {java_error}\n"
        "\tat org.apache.iceberg.BaseTransaction.commitTransaction(BaseTransaction.java:300)\n"
    )


GLUE_CONFLICT = _py4j(
    "org.apache.iceberg.exceptions.CommitFailedException: Cannot commit glue.raw.events__a because "
    "Glue detected concurrent update"
)
REWRITE_CONFLICT = _py4j(
    "org.apache.iceberg.exceptions.ValidationException: Cannot commit, found new delete for replaced "
    "data file: GenericDataFile{...}"
)
UNKNOWN_STATE = _py4j(
    "org.apache.iceberg.exceptions.CommitStateUnknownException: Cannot determine whether the commit "
    "succeeded\nCaused by: org.apache.iceberg.exceptions.CommitFailedException: timeout"
)
AWS_VALIDATION = _py4j(
    "software.amazon.awssdk.services.glue.model.ValidationException: 1 validation error detected"
)
NO_TABLE = _py4j("org.apache.spark.sql.catalyst.analysis.NoSuchTableException: [TABLE_OR_VIEW_NOT_FOUND]")


# ------------------------------------------------------------------ patterns


def test_a_pattern_is_a_literal_namespace_and_a_table_glob() -> None:
    assert split_pattern("raw.events__*") == ("raw", "events__*")
    assert split_pattern(" RAW.Events__Orders ") == ("raw", "events__orders")


@pytest.mark.parametrize("pattern", ["events__*", "raw.", "r*w.events__*", ".events"])
def test_a_pattern_without_a_plain_namespace_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        split_pattern(pattern)


def test_the_default_pattern_matches_topic_typed_and_dead_letter_tables_only() -> None:
    names = ["events__orders", "events__orders__typed", "events__dead_letters", "smoke__x", "orders_export"]
    assert match_tables("raw", names, ["raw.events__*"]) == [
        "raw.events__dead_letters",
        "raw.events__orders",
        "raw.events__orders__typed",
    ]


def test_patterns_of_another_namespace_match_nothing_here() -> None:
    assert match_tables("raw", ["events__orders"], ["staging.events__*"]) == []
    assert match_tables("raw", ["Events__Orders"], ["raw.events__orders", "raw.nothing"]) == [
        "raw.events__orders"
    ]


@pytest.mark.parametrize("table", ["events__x", "raw.x'; DROP TABLE y --", "glue.raw.x", "raw.x-y"])
def test_only_plain_namespace_dot_name_reaches_sql(table: str) -> None:
    with pytest.raises(ValueError):
        qualified(table)


# ------------------------------------------------------------------ procedure calls


def test_compaction_is_binpack_with_the_policy_thresholds_and_partial_progress() -> None:
    policy = MaintenancePolicy(min_input_files=7, target_file_size_bytes=1000, max_concurrent_rewrites=3)
    sql = rewrite_data_files_sql("raw.events__a", policy)
    assert sql.startswith(f"CALL {CATALOG}.system.rewrite_data_files(table => 'raw.events__a', ")
    assert "strategy => 'binpack'" in sql
    for option in [
        "'min-input-files', '7'",
        "'target-file-size-bytes', '1000'",
        "'partial-progress.enabled', 'true'",
        "'max-concurrent-file-group-rewrites', '3'",
    ]:
        assert option in sql


def test_expiry_names_an_instant_that_does_not_depend_on_the_session_time_zone() -> None:
    berlin = timezone(timedelta(hours=1))
    sql = expire_snapshots_sql("raw.events__a", datetime(2026, 3, 1, 12, 30, 5, 250000, berlin), 100)
    assert sql == (
        f"CALL {CATALOG}.system.expire_snapshots(table => 'raw.events__a', "
        "older_than => TIMESTAMP '2026-03-01 11:30:05.250+00:00', retain_last => 100)"
    )


# ------------------------------------------------------------------ keeping the stream's markers


def _chain(*streams: str | None) -> list[tuple[int, int | None, str | None]]:
    """Snapshots 1..n, each the parent of the next; `streams[i]` is snapshot i+1's dp.stream-id."""
    return [(i + 1, i or None, stream) for i, stream in enumerate(streams)]


def test_retain_last_is_unchanged_when_the_stream_committed_last() -> None:
    assert retain_last_protecting_streams(5, _chain("s", "s", "s", "s", "s"), 100) == 100


def test_retain_last_reaches_past_an_idle_streams_latest_marker() -> None:
    # s2 last committed at snapshot 2; then s1 and compactions (None) made 250 more commits.
    snapshots = _chain("s1", "s2", *(["s1", None] * 125))
    current = len(snapshots)
    depth_of_s2 = current - 2
    assert retain_last_protecting_streams(current, snapshots, 100) == depth_of_s2 + 100


def test_markers_off_the_current_ancestry_do_not_count() -> None:
    snapshots = [*_chain("s", None, None), (99, 1, "rolled-back")]
    assert retain_last_protecting_streams(3, snapshots, 10) == 2 + 10
    assert retain_last_protecting_streams(None, snapshots, 10) == 10


# ------------------------------------------------------------------ conflicts and retries


@pytest.mark.parametrize("text", [GLUE_CONFLICT, REWRITE_CONFLICT])
def test_a_lost_commit_race_is_a_conflict(text: str) -> None:
    assert is_commit_conflict(text)


@pytest.mark.parametrize("text", [UNKNOWN_STATE, AWS_VALIDATION, NO_TABLE, "boom"])
def test_other_failures_and_an_unknown_commit_state_are_not(text: str) -> None:
    assert not is_commit_conflict(text)


def test_first_line_drops_the_py4j_preamble() -> None:
    assert first_line(NO_TABLE).startswith("org.apache.spark.sql.catalyst.analysis.NoSuchTableException")


def _failing(*errors: Exception, result: str = "done") -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def run() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return calls, run


def test_conflicts_are_retried_with_exponential_backoff() -> None:
    sleeps: list[float] = []
    calls, run = _failing(RuntimeError(GLUE_CONFLICT), RuntimeError(REWRITE_CONFLICT))
    policy = MaintenancePolicy(commit_attempts=4, retry_backoff_seconds=1.5)
    assert retry_on_conflict("raw.a", "step", run, policy, sleeps.append) == ("done", 2)
    assert sleeps == [1.5, 3.0]
    assert len(calls) == 3


def test_any_other_failure_stops_at_once_and_says_what_failed() -> None:
    sleeps: list[float] = []
    calls, run = _failing(RuntimeError(NO_TABLE))
    with pytest.raises(MaintenanceError, match=r"raw.a: expire_snapshots failed: .*NoSuchTableException"):
        retry_on_conflict("raw.a", "expire_snapshots", run, MaintenancePolicy(), sleeps.append)
    assert (len(calls), sleeps) == (1, [])


def test_a_conflict_that_persists_fails_after_the_last_attempt() -> None:
    calls, run = _failing(*[RuntimeError(GLUE_CONFLICT)] * 5)
    with pytest.raises(MaintenanceError, match="commit conflict after 3 attempts"):
        retry_on_conflict("raw.a", "rewrite", run, MaintenancePolicy(commit_attempts=3), lambda _: None)
    assert len(calls) == 3


# ------------------------------------------------------------------ policy and job flags


def test_orphan_removal_may_never_see_files_of_a_commit_in_flight() -> None:
    with pytest.raises(ValueError, match="longest_writer_commit"):
        MaintenancePolicy(orphan_older_than=timedelta(minutes=30), longest_writer_commit=timedelta(hours=1))
    with pytest.raises(ValueError, match="retain_last"):
        MaintenancePolicy(retain_last=0)


def _job() -> ModuleType:
    spec = importlib.util.spec_from_file_location("maintenance", ROOT / "jobs" / "maintenance.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_jobs_flags_default_to_the_policy_defaults() -> None:
    job = _job()
    args = job.build_parser().parse_args([])
    assert args.tables == ["raw.events__*"]
    assert job.policy_from_args(args) == MaintenancePolicy()


def test_every_threshold_has_a_flag() -> None:
    job = _job()
    args = job.build_parser().parse_args(
        [
            "--tables",
            "raw.events__a",
            "raw.events__b__typed",
            "--orphan-older-than-hours",
            "96",
            "--retain-last",
            "7",
        ]
    )
    policy = job.policy_from_args(args)
    assert args.tables == ["raw.events__a", "raw.events__b__typed"]
    assert (policy.orphan_older_than, policy.retain_last) == (timedelta(hours=96), 7)
    flags = {action.dest for action in job.build_parser()._actions}
    for threshold in fields(MaintenancePolicy):
        assert {threshold.name, f"{threshold.name}_hours"} & flags, f"no flag for {threshold.name}"
