"""The peer of the streaming benchmark: the minimal Structured Streaming query a user could write instead of
the platform's job, on the same session and the same topic.

Kafka rows plus `from_json` into typed columns (the job's own struct for the topic's schema), appended as
they are to one Iceberg table of the same catalog (created by the query, unpartitioned): no validation,
no dead letters, no raw table, no exactly-once bookkeeping. `availableNow` with the job's
`maxOffsetsPerTrigger`, so it reads what the topic holds when it starts, in the same batches.

Run as its own process by bench/streaming.py (a fresh JVM, as the job has), with the stack's settings in
the environment:

    .venv/bin/python bench/streaming_peer.py --topic T --schema S.json --table raw.T --checkpoint DIR \\
        --max-offsets-per-trigger N

With `--ready-file F` it starts its JVM and session, touches F, and waits for a line on stdin before it
reads anything: the benchmark starts it beside the job, so its start-up is not added to the run, and lets
it go once the job has drained the backlog. The benchmark reads the rate from the checkpoint, the same
way as the job's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyspark.sql import functions as F

from dataplatform.settings import load_settings
from dataplatform.spark.session import build_session
from dataplatform.streaming.job import SESSION_CONF
from dataplatform.streaming.validation import EventSchema


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--topic", required=True)
    parser.add_argument("--schema", type=Path, required=True, help="the topic's JSON Schema")
    parser.add_argument("--table", required=True, help="the Iceberg table to append to")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--max-offsets-per-trigger", type=int, required=True)
    parser.add_argument(
        "--ready-file", type=Path, help="touch it once the session is up, then wait for stdin"
    )
    args = parser.parse_args()
    settings = load_settings()
    spark = build_session("stream-minimal", settings, master="local[2]", extra_conf=SESSION_CONF)
    spark.sparkContext.setLogLevel("WARN")
    if args.ready_file:
        args.ready_file.touch()
        sys.stdin.readline()
    events = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.require("kafka_bootstrap"))
        .option("subscribe", args.topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(args.max_offsets_per_trigger))
        .load()
        .select(
            F.from_json(F.col("value").cast("string"), EventSchema.load(args.schema).spark_type()).alias("e"),
            "topic",
            "partition",
            "offset",
            F.col("timestamp").alias("kafka_timestamp"),
        )
        .select("e.*", "topic", "partition", "offset", "kafka_timestamp")
    )
    query = (
        events.writeStream.format("iceberg")
        .outputMode("append")
        .trigger(availableNow=True)
        .option("checkpointLocation", args.checkpoint)
        .toTable(args.table)
    )
    query.awaitTermination()
    spark.stop()


if __name__ == "__main__":
    main()
