"""Which snapshot an export is of, and the export id it always gets.

The export id is derived from the snapshot and the day it was taken, `<database>-<yyyy-mm-dd>` for an
automated snapshot (`rds:<database>-<yyyy-mm-dd-hh-mm>`), `<snapshot>-<yyyy-mm-dd>` for any other. Every
replay of an event, and every rerun of `dp export`, names the same export task, and RDS refuses a second
task of one id; that is what makes starting an export idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

# Where in the raw bucket RDS writes exports; snapshot_catalog's rule matches `exports/*/export_info_*.json`.
EXPORT_PREFIX = "exports"
AUTOMATED = re.compile(r"^rds:(?P<source>.+)-(?P<taken>\d{4}-\d{2}-\d{2}-\d{2}-\d{2})$")
_MAX_ID = 60  # RDS: 1-60 letters, digits and hyphens, starting with a letter, no double or trailing hyphen
_DAY = len("-yyyy-mm-dd")

SnapshotKind = Literal["instance", "cluster"]


@dataclass(frozen=True)
class Snapshot:
    arn: str
    identifier: str  # as RDS names it
    source: str  # the DB instance or cluster it is a snapshot of
    taken_at: datetime
    kind: SnapshotKind

    @property
    def automated(self) -> bool:
        return AUTOMATED.match(self.identifier) is not None

    @property
    def export_id(self) -> str:
        return export_id_for(self.source if self.automated else self.identifier, self.taken_at.date())

    @classmethod
    def from_arn(cls, arn: str, taken_at: datetime | None = None, source: str | None = None) -> Snapshot:
        """A snapshot known by its ARN; an automated one's name gives its source and time."""
        parts = arn.split(":", 6)
        if len(parts) != 7 or parts[2] != "rds" or parts[5] not in ("snapshot", "cluster-snapshot"):
            raise ValueError(f"{arn!r} is not the ARN of an RDS DB or DB cluster snapshot")
        identifier = parts[6]
        automated = AUTOMATED.match(identifier)
        if automated:
            source = automated.group("source")
            taken_at = datetime.strptime(automated.group("taken"), "%Y-%m-%d-%H-%M").replace(tzinfo=UTC)
        if taken_at is None:
            raise ValueError(f"{arn}: the time of a snapshot that is not automated must be given")
        kind: SnapshotKind = "instance" if parts[5] == "snapshot" else "cluster"
        return cls(arn, identifier, source or identifier, taken_at.astimezone(UTC), kind)


def export_id_for(stem: str, day: date) -> str:
    """`<stem>-<yyyy-mm-dd>` in the characters RDS allows for an export task identifier."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    if not cleaned[:1].isalpha():
        cleaned = f"db-{cleaned}".strip("-")
    return f"{cleaned[: _MAX_ID - _DAY].rstrip('-')}-{day.isoformat()}"
