"""Transforms, one step of a run: `python jobs/transforms.py --step staging --run-id RUN`.

EMR Serverless runs it from the transform state machine (staging, then the model groups in parallel,
then the aggregates, then publish); `dp transform run` runs the same file locally. Every step writes on
the run's own branch of each table; only `publish` makes the run visible. The step's report (rows
read, rows changed, bytes written per table) is the last line of stdout, as JSON. A quality gate's
failure exits with GATE_FAILED_EXIT and its message on stderr (the state machine does not retry it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from dataplatform.settings import load_settings
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    tables = [t for t in args.tables.split(",") if t]
    spark = build_session(f"transforms-{args.step}", load_settings())
    try:
        report = run_step(spark, args.step, args.run_id, tables, args.full_refresh)
    except GateFailed as failed:
        print(f"{GATE_FAILED_MARKER}{failed}", file=sys.stderr, flush=True)
        return GATE_FAILED_EXIT
    finally:
        spark.stop()
    print(json.dumps(report.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
