"""What the transforms read and write: each staging entity with its raw source and key, and each
analytics table with the staging tables it is built from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SourceKind = Literal["rds_export", "api", "stream"]


@dataclass(frozen=True)
class StagingEntity:
    """`staging.<name>` from `raw`: an RDS export table (a full snapshot per export), API records
    (latest version per key) or stream events (first landing per key)."""

    name: str
    raw: str
    keys: tuple[str, ...]
    kind: SourceKind
    order: tuple[str, ...] = ()  # API: which version is latest; stream: which landing is first

    @property
    def table(self) -> str:
        return f"staging.{self.name}"


RDS_DATABASE = "tpch__public"
STAGING: dict[str, StagingEntity] = {
    e.name: e
    for e in (
        StagingEntity("region", f"raw.{RDS_DATABASE}__region", ("r_regionkey",), "rds_export"),
        StagingEntity("nation", f"raw.{RDS_DATABASE}__nation", ("n_nationkey",), "rds_export"),
        StagingEntity("customer", f"raw.{RDS_DATABASE}__customer", ("c_custkey",), "rds_export"),
        StagingEntity("supplier", f"raw.{RDS_DATABASE}__supplier", ("s_suppkey",), "rds_export"),
        StagingEntity("part", f"raw.{RDS_DATABASE}__part", ("p_partkey",), "rds_export"),
        StagingEntity("orders", f"raw.{RDS_DATABASE}__orders", ("o_orderkey",), "rds_export"),
        StagingEntity(
            "lineitem", f"raw.{RDS_DATABASE}__lineitem", ("l_orderkey", "l_linenumber"), "rds_export"
        ),
        StagingEntity(
            "reviews", "raw.reviews__reviews", ("review_id",), "api", ("updated_at", "_ingested_at")
        ),
        StagingEntity(
            "web_events",
            "raw.events__clickstream__typed",
            ("event_id",),
            "stream",
            ("kafka_timestamp", "offset"),
        ),
    )
}
