"""Transforms, one step of a run: `python jobs/transforms.py --step staging --run-id RUN`.

EMR Serverless runs it from the transform state machine (staging, then the model groups in parallel,
then the aggregates, then publish); `dp transform run` runs the same file locally. Every step writes on
the run's own branch of each table; only `publish` makes the run visible. The step's report (rows
read, rows changed, bytes written per table) is the last line of stdout, as JSON. `publish` with
`--figures-uri s3://...` also writes there the run's figures (dataplatform/transforms/figures.py), which
the state machine puts into TransformSucceeded. A quality gate's failure exits with GATE_FAILED_EXIT and
its message on stderr (the state machine does not retry it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from dataplatform.aws import client
from dataplatform.settings import Settings, load_settings
from dataplatform.spark.session import build_session
from dataplatform.transforms.job_exit import GATE_FAILED_EXIT, GATE_FAILED_MARKER
from dataplatform.transforms.quality import GateFailed
from dataplatform.transforms.steps import STEPS, run_step


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--step", choices=STEPS, required=True)
    parser.add_argument("--run-id", required=True, help="the run (its branch of every table)")
    parser.add_argument("--tables", default="", help="comma-separated; every table of the step by default")
    parser.add_argument("--full-refresh", action="store_true", help="recompute from all of each source")
    parser.add_argument("--figures-uri", default="", help="publish: write the run's figures here (s3://...)")
    return parser


def s3_location(uri: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ValueError(f"--figures-uri {uri!r} is not s3://<bucket>/<key>")
    return bucket, key


def write_figures(uri: str, figures: dict[str, Any], settings: Settings) -> None:
    """The run's figures as a JSON object at `uri`."""
    bucket, key = s3_location(uri)
    body = json.dumps(figures, sort_keys=True).encode()
    client("s3", settings).put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    tables = [t for t in args.tables.split(",") if t]
    if args.figures_uri and args.step != "publish":
        parser.error("--figures-uri is for --step publish")
    try:
        if args.figures_uri:
            s3_location(args.figures_uri)
    except ValueError as invalid:
        parser.error(str(invalid))
    settings = load_settings()
    spark = build_session(f"transforms-{args.step}", settings)
    try:
        report = run_step(spark, args.step, args.run_id, tables, args.full_refresh)
    except GateFailed as failed:
        print(f"{GATE_FAILED_MARKER}{failed}", file=sys.stderr, flush=True)
        return GATE_FAILED_EXIT
    finally:
        spark.stop()
    if args.figures_uri and report.figures is not None:
        write_figures(args.figures_uri, report.figures, settings)
    print(json.dumps(report.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
