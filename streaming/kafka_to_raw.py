"""Kafka topics into raw Iceberg tables, exactly once: the Spark Structured Streaming job.

On EMR Serverless (STREAMING mode) the session comes configured from the job run's spark-submit
parameters; locally (`DP_PROFILE=local`) it is built on the local stack. Example, locally:

    python streaming/kafka_to_raw.py --topics clickstream --checkpoint .local/streaming/clickstream
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dataplatform.aws import client
from dataplatform.settings import load_settings
from dataplatform.spark.session import build_session
from dataplatform.streaming.job import (
    AVAILABLE_NOW,
    DEFAULT_TRIGGER,
    Reporter,
    StreamConfig,
    local_schemas,
    run,
)

SCHEMAS = Path(__file__).resolve().parent / "schemas"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--name", default="clickstream", help="the stream's id (snapshots, metrics)")
    parser.add_argument("--topics", required=True, help="comma-separated Kafka topics")
    parser.add_argument("--checkpoint", required=True, help="checkpoint location (s3://... on EMR)")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers; DP_KAFKA_BOOTSTRAP by default")
    parser.add_argument("--trigger", default=DEFAULT_TRIGGER, help=f"interval, or {AVAILABLE_NOW!r}")
    parser.add_argument("--max-offsets-per-trigger", type=int, default=100_000)
    parser.add_argument(
        "--min-partitions", type=int, help="Spark tasks per batch at least; the session's default parallelism"
    )
    parser.add_argument("--starting-offsets", default="earliest")
    parser.add_argument(
        "--schemas", default=str(SCHEMAS), help="folder of <topic>.json schemas, local or s3://bucket/prefix"
    )
    parser.add_argument(
        "--kafka-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Kafka client option, e.g. security.protocol=SASL_SSL (MSK)",
    )
    parser.add_argument("--status-file", type=Path, help="where to write the latest status as JSON")
    parser.add_argument("--master", default="local[2]", help="Spark master (local profile only)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    bootstrap = args.bootstrap or settings.require("kafka_bootstrap")
    config = StreamConfig(
        name=args.name,
        topics=tuple(t for t in args.topics.split(",") if t),
        bootstrap=bootstrap,
        checkpoint=args.checkpoint,
        schemas_dir=local_schemas(args.schemas, client("s3", settings)),
        trigger=args.trigger,
        max_offsets_per_trigger=args.max_offsets_per_trigger or None,
        min_partitions=args.min_partitions,
        starting_offsets=args.starting_offsets,
        kafka_options=dict(option.split("=", 1) for option in args.kafka_option),
    )
    spark = build_session(f"stream-{config.name}", settings, master=args.master)
    spark.sparkContext.setLogLevel("WARN")
    reporter = Reporter(config, args.status_file, client("cloudwatch", settings))
    try:
        return run(spark, config, reporter)
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
