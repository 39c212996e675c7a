"""The pure part of table maintenance: thresholds, table patterns, the SQL of each step, the retention
that keeps stream markers, and retrying on commit conflicts. No Spark here."""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from dataplatform.spark.session import CATALOG

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PATTERNS = ("raw.events__*",)

# A commit that lost a race with another writer: Iceberg's own retries ran out (CommitFailedException,
# also how Glue's ConcurrentModificationException surfaces), or a rewrite's validation found the table
# changed under it (ValidationException). Fully qualified, because AWS has a ValidationException too.
CONFLICT_MARKERS = (
    "org.apache.iceberg.exceptions.CommitFailedException",
    "org.apache.iceberg.exceptions.ValidationException",
    "Glue detected concurrent update",
)
# The commit may have succeeded: retrying blindly is wrong, so this fails the table.
UNKNOWN_STATE_MARKER = "CommitStateUnknownException"

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]+$")

T = TypeVar("T")


class MaintenanceError(RuntimeError):
    """A maintenance step failed for a reason other than a commit conflict, or kept conflicting."""

    def __init__(self, table: str, step: str, reason: str, report: TableReport | None = None) -> None:
        super().__init__(f"{table}: {step} failed: {reason}")
        self.table, self.step, self.reason, self.report = table, step, reason, report


@dataclass(frozen=True)
class MaintenancePolicy:
    """Thresholds for one maintenance run; the defaults are the scheduled job's."""

    min_input_files: int = 5
    target_file_size_bytes: int = 128 * MiB
    max_concurrent_rewrites: int = 4
    rewrite_manifests_above: int = 20
    expire_older_than: timedelta = timedelta(hours=24)
    retain_last: int = 100
    orphan_older_than: timedelta = timedelta(hours=72)
    # The longest a writer can take from writing its first data file to committing it. A file younger
    # than this may belong to a commit still in flight, so orphan removal must never look at it.
    longest_writer_commit: timedelta = timedelta(hours=1)
    commit_attempts: int = 4
    retry_backoff_seconds: float = 2.0

    def __post_init__(self) -> None:
        positive = {
            "min_input_files": self.min_input_files,
            "target_file_size_bytes": self.target_file_size_bytes,
            "max_concurrent_rewrites": self.max_concurrent_rewrites,
            "retain_last": self.retain_last,
            "commit_attempts": self.commit_attempts,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.rewrite_manifests_above < 0 or self.retry_backoff_seconds < 0:
            raise ValueError("rewrite_manifests_above and retry_backoff_seconds must not be negative")
        if self.expire_older_than < timedelta(0):
            raise ValueError(f"expire_older_than must not be negative, got {self.expire_older_than}")
        if self.orphan_older_than < self.longest_writer_commit or self.orphan_older_than <= timedelta(0):
            raise ValueError(
                f"orphan_older_than ({self.orphan_older_than}) must be positive and at least "
                f"longest_writer_commit ({self.longest_writer_commit}), or a commit in flight loses its files"
            )


@dataclass
class TableReport:
    """What one run did to one table. Counts are of the current snapshot (data files, manifests) and of
    the whole table (snapshots); `*_after` includes whatever the stream committed meanwhile."""

    table: str
    ok: bool = True
    seconds: float = 0.0
    data_files_before: int | None = None
    data_files_after: int | None = None
    snapshots_before: int | None = None
    snapshots_after: int | None = None
    manifests_before: int | None = None
    manifests_after: int | None = None
    rewritten_data_files: int = 0
    added_data_files: int = 0
    failed_data_files: int = 0
    rewritten_manifests: int = 0
    added_manifests: int = 0
    retain_last: int | None = None
    expired_files_deleted: int = 0
    orphans_removed: int = 0
    conflict_retries: int = 0
    skipped: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def split_pattern(pattern: str) -> tuple[str, str]:
    """`raw.events__*` -> (`raw`, `events__*`). The namespace is literal; only the table name globs."""
    namespace, dot, name_glob = pattern.strip().lower().partition(".")
    if not dot or not _IDENTIFIER.match(namespace) or not name_glob:
        raise ValueError(f"table pattern {pattern!r} is not <namespace>.<table glob>, e.g. raw.events__*")
    return namespace, name_glob


def match_tables(namespace: str, names: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """Qualified names of the tables in `namespace` that match any pattern, sorted."""
    globs = [g for ns, g in map(split_pattern, patterns) if ns == namespace.lower()]
    return sorted(
        f"{namespace.lower()}.{n.lower()}"
        for n in names
        if any(fnmatch.fnmatchcase(n.lower(), g) for g in globs)
    )


def qualified(table: str) -> str:
    """`raw.events__x` validated and prefixed with the catalog, for SQL text."""
    parts = table.split(".")
    if len(parts) != 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise ValueError(f"table {table!r} is not <namespace>.<name> of letters, digits and underscores")
    return f"{CATALOG}.{table}"


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_timestamp(moment: datetime) -> str:
    """A literal that means the same instant whatever the session's time zone."""
    return f"TIMESTAMP '{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}+00:00'"


def call_sql(procedure: str, table: str, args: Mapping[str, str] | None = None) -> str:
    """`CALL <catalog>.system.<procedure>(table => '...', k => v, ...)`; values are SQL literals."""
    qualified(table)
    rendered = [f"table => {_sql_string(table)}", *(f"{k} => {v}" for k, v in (args or {}).items())]
    return f"CALL {CATALOG}.system.{procedure}({', '.join(rendered)})"


def rewrite_data_files_sql(table: str, policy: MaintenancePolicy) -> str:
    options = {
        "min-input-files": str(policy.min_input_files),
        "target-file-size-bytes": str(policy.target_file_size_bytes),
        "partial-progress.enabled": "true",
        "max-concurrent-file-group-rewrites": str(policy.max_concurrent_rewrites),
    }
    rendered = ", ".join(f"{_sql_string(k)}, {_sql_string(v)}" for k, v in options.items())
    return call_sql("rewrite_data_files", table, {"strategy": "'binpack'", "options": f"map({rendered})"})


def rewrite_manifests_sql(table: str) -> str:
    return call_sql("rewrite_manifests", table)


def expire_snapshots_sql(table: str, older_than: datetime, retain_last: int) -> str:
    return call_sql(
        "expire_snapshots",
        table,
        {"older_than": _sql_timestamp(older_than), "retain_last": str(retain_last)},
    )


def retain_last_protecting_streams(
    current_id: int | None, snapshots: Iterable[tuple[int, int | None, str | None]], retain_last: int
) -> int:
    """How many ancestors expiry must keep so every stream still finds its latest marker.

    `snapshots` are (snapshot_id, parent_id, dp.stream-id or None). Walking back from the current
    snapshot, the latest snapshot of each stream id sits at some depth (0 = current); keep `retain_last`
    snapshots beyond the deepest, so commits landing while expiry runs cannot push it out.
    """
    parents = {sid: (parent, stream) for sid, parent, stream in snapshots}
    seen_streams: set[str] = set()
    deepest, depth, node = -1, 0, current_id
    while node is not None and node in parents:
        parent, stream = parents[node]
        if stream and stream not in seen_streams:
            seen_streams.add(stream)
            deepest = depth
        node, depth = parent, depth + 1
    return retain_last if deepest < 0 else deepest + retain_last


def error_text(exc: BaseException) -> str:
    """Everything an error says, the JVM's stack trace and causes included (PySpark keeps them apart)."""
    parts = [str(exc)]
    for name in ("desc", "stackTrace"):
        value = getattr(exc, name, None)
        if isinstance(value, str):
            parts.append(value)
    return "\n".join(parts)


def is_commit_conflict(text: str) -> bool:
    """Whether an error is a lost commit race worth retrying (see CONFLICT_MARKERS)."""
    if UNKNOWN_STATE_MARKER in text:
        return False
    return any(marker in text for marker in CONFLICT_MARKERS)


def first_line(text: str, limit: int = 400) -> str:
    """The line of a Py4J/Spark error that says what went wrong, without the call-site preamble."""
    for line in text.splitlines():
        line = line.strip().removeprefix(": ")
        if line and not line.startswith("An error occurred while calling"):
            return line[:limit]
    return text[:limit]


def retry_on_conflict(
    table: str,
    step: str,
    run: Callable[[], T],
    policy: MaintenancePolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """`run()`, retried with exponential backoff while it fails on a commit conflict; returns its
    result and the number of retries. Any other failure, or the last conflict, is a MaintenanceError."""
    for attempt in range(1, policy.commit_attempts + 1):
        try:
            return run(), attempt - 1
        except Exception as exc:  # Py4J and PySpark wrap the JVM's errors in several classes
            text = error_text(exc)
            conflict = is_commit_conflict(text)
            if not conflict or attempt == policy.commit_attempts:
                why = f"commit conflict after {attempt} attempts: " if conflict else ""
                raise MaintenanceError(table, step, why + first_line(text)) from exc
            delay = policy.retry_backoff_seconds * 2 ** (attempt - 1)
            log.warning(
                "%s: %s lost a commit race (%s), retry in %.1fs", table, step, first_line(text), delay
            )
            sleep(delay)
    raise AssertionError("unreachable: commit_attempts >= 1")
