"""Compact, expire and clean the raw Iceberg tables the stream appends to; one JSON line per table.

    python jobs/maintenance.py --tables 'raw.events__*' --expire-older-than-hours 24

The session comes from `build_session`: on the local profile (DP_PROFILE=local) that is local PySpark on
the local stack; otherwise it is `getOrCreate()` on the conf EMR Serverless got from the job run's
sparkSubmitParameters. Exits 1 if any table failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import timedelta

from dataplatform.maintenance.policy import DEFAULT_PATTERNS, MaintenancePolicy, split_pattern
from dataplatform.maintenance.run import maintain_tables
from dataplatform.settings import load_settings
from dataplatform.spark.session import build_session

DEFAULTS = MaintenancePolicy()


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--tables", nargs="+", default=list(DEFAULT_PATTERNS), help="<namespace>.<table glob> patterns")
    add("--min-input-files", type=int, default=DEFAULTS.min_input_files, help="files per group to compact")
    add("--target-file-size-bytes", type=int, default=DEFAULTS.target_file_size_bytes)
    add("--max-concurrent-rewrites", type=int, default=DEFAULTS.max_concurrent_rewrites)
    add("--rewrite-manifests-above", type=int, default=DEFAULTS.rewrite_manifests_above)
    add("--expire-older-than-hours", type=float, default=_hours(DEFAULTS.expire_older_than))
    add("--retain-last", type=int, default=DEFAULTS.retain_last, help="snapshots kept whatever their age")
    add("--orphan-older-than-hours", type=float, default=_hours(DEFAULTS.orphan_older_than))
    add("--longest-writer-commit-hours", type=float, default=_hours(DEFAULTS.longest_writer_commit))
    add("--commit-attempts", type=int, default=DEFAULTS.commit_attempts)
    add("--retry-backoff-seconds", type=float, default=DEFAULTS.retry_backoff_seconds)
    return parser


def policy_from_args(args: argparse.Namespace) -> MaintenancePolicy:
    return MaintenancePolicy(
        min_input_files=args.min_input_files,
        target_file_size_bytes=args.target_file_size_bytes,
        max_concurrent_rewrites=args.max_concurrent_rewrites,
        rewrite_manifests_above=args.rewrite_manifests_above,
        expire_older_than=timedelta(hours=args.expire_older_than_hours),
        retain_last=args.retain_last,
        orphan_older_than=timedelta(hours=args.orphan_older_than_hours),
        longest_writer_commit=timedelta(hours=args.longest_writer_commit_hours),
        commit_attempts=args.commit_attempts,
        retry_backoff_seconds=args.retry_backoff_seconds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        policy = policy_from_args(args)
        for pattern in args.tables:
            split_pattern(pattern)
    except ValueError as exc:
        parser.error(str(exc))
    spark = build_session("maintenance", load_settings())
    try:
        reports = maintain_tables(spark, args.tables, policy)
    finally:
        spark.stop()
    if not reports:
        logging.warning("no table matches %s", " ".join(args.tables))
    for report in reports:
        print(json.dumps(report.to_json()), flush=True)
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
