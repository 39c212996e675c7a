"""The streaming job (Kafka -> raw, typed and dead-letter Iceberg tables) against a plain Kafka consumer.

One run starts the local stack (moto, the Kafka broker, ...) in a temp dir, produces M clickstream events
(500,000; 4,000 with --quick; 2% malformed) to a fresh 3-partition topic, then measures:

- the job: streaming/kafka_to_raw.py on local[2], its own process as `dp streaming start` runs it, with
  its default trigger of 10 seconds, the one it runs with on EMR (over a backlog, each batch starts as
  soon as the last one ends) and maxOffsetsPerTrigger about M/4. Its sustained rate is M over the time from the first batch's trigger
  (`batchTimestampMs` in the checkpoint's offset log) to the commit of the batch that reached offset M
  (the checkpoint's commit log: raw, typed and dead letters all written). Process, JVM, Spark session
  and table creation (start -> first batch) are reported apart, and so is the rate without the first
  batch, which also pays for warming up, and the job's own log of its seconds per step in each batch.
  Counts are checked: raw == M (distinct Kafka coordinates too)
  and typed + dead letters == M, from the tables' snapshot summaries;
- the limit, once the job has drained the backlog and idles: a plain confluent_kafka consumer reading
  every message of the topic from the beginning, counting bytes and nothing else, with 16 MB fetches; a
  first pass over the topic warms it up, then passes are clocked from their first message on until they
  add up to 0.5 s (one pass for a big M). The same with librdkafka's default fetch sizes is shown beside;
- the minimal peer, once the job idles: bench/streaming_peer.py, its own process on the same session
  settings (started beside the job, it builds its session and waits to be let go), reading the same topic from the beginning (`availableNow`, the same maxOffsetsPerTrigger) as
  Kafka rows plus `from_json` into one Iceberg table of the same catalog, with no validation, no dead
  letters and no raw table. Its rate is measured from its checkpoint as the job's, and its table must
  hold M rows;
- end-to-end latency with the job running on: events produced at a fixed rate (1,000/s for 40 s; 500/s
  for 3 s with --quick), each one's latency = the commit time of the raw table's Iceberg snapshot that
  added the data file holding it (snapshot `timestamp-ms`; the file's snapshot from the table's manifest
  entries) - its Kafka timestamp (CreateTime, set by the producer client at `produce()`). p50/p95/max;
  the same with `_ingested_at` (stamped per batch as its writes begin) beside it. Goal: p95 at most
  twice the trigger interval (an event waits up to one interval for its batch, then the batch's work).

`RATIO streaming <job_events_per_s / plain_consumer_events_per_s>` is the share of the broker's raw read
speed the job keeps. Last line, the headline: `RATIO streaming_vs_spark <job_events_per_s /
minimal_peer_events_per_s>`, the share of a hand-written query's speed the job keeps with its guarantees
(goal: at least 0.5).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.table.snapshots import Snapshot

from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Settings, settings_env
from dataplatform.streaming.job import DEFAULT_TRIGGER
from dataplatform.streaming.tables import StreamTables
from dptools.local.paths import LocalPaths, project_root
from dptools.local.stack import LocalStack
from dptools.local.streaming_process import LocalStream
from dptools.samples.clickstream import DEFAULT_PARTITIONS, produce_events

SCHEMA = project_root() / "streaming" / "schemas" / "clickstream.json"
PEER = Path(__file__).resolve().parent / "streaming_peer.py"
EVENTS, QUICK_EVENTS = 500_000, 4_000
RATE, QUICK_RATE = 1_000.0, 500.0  # events/s of the latency run
LATENCY_S, QUICK_LATENCY_S = 40.0, 3.0  # four triggers; with --quick one or two
MALFORMED_SHARE = 0.02
BATCHES = 4  # maxOffsetsPerTrigger = M / BATCHES over the backlog
MIN_CONSUMER_S = 0.5  # the plain consumer reads the topic again until it has read this long
# With librdkafka's default fetch sizes (1 MB a partition) the consumer waits on the broker's round trips
# over a big backlog; with bigger fetches it is bound by its own CPU: the limit.
BIG_FETCHES = {"max.partition.fetch.bytes": 16 << 20, "fetch.max.bytes": 64 << 20}
# The job's own default, the one EMR runs (the supervisor passes no --trigger): over a backlog each batch
# starts as soon as the last one ends; at a steady rate an event waits up to one interval for its batch.
TRIGGER = DEFAULT_TRIGGER
TRIGGER_S = float(TRIGGER.split()[0])
STEP = re.compile(r"batch (\d+): .*seconds (\{.*\})$")
TABLES = StreamTables()


@dataclass(frozen=True)
class Batch:
    """One micro-batch, from the job's checkpoint: its trigger time, end offset total and commit time."""

    batch_id: int
    started_s: float  # batchTimestampMs
    end_offsets: int  # summed over partitions: the events of the topic read once this batch is done
    committed_s: float | None  # mtime of commits/<id>: foreachBatch returned, all tables written


def checkpoint_batches(checkpoint: Path) -> list[Batch]:
    batches = []
    offsets_dir = checkpoint / "offsets"
    if not offsets_dir.is_dir():
        return []
    for entry in offsets_dir.iterdir():
        if not entry.name.isdigit():
            continue  # Spark's temp and .crc files
        lines = entry.read_text().splitlines()
        if len(lines) < 3:
            continue
        metadata, offsets = json.loads(lines[1]), json.loads(lines[2])
        commit = checkpoint / "commits" / entry.name
        batches.append(
            Batch(
                batch_id=int(entry.name),
                started_s=metadata["batchTimestampMs"] / 1000,
                end_offsets=sum(int(o) for partitions in offsets.values() for o in partitions.values()),
                committed_s=commit.stat().st_mtime if commit.is_file() else None,
            )
        )
    return sorted(batches, key=lambda b: b.batch_id)


def batch_seconds(batches: list[Batch]) -> list[float]:
    """Each batch's trigger -> commit."""
    return [(b.committed_s or math.nan) - b.started_s for b in batches]


def wait_until_read(stream: LocalStream, total: int, timeout_s: float) -> list[Batch]:
    """The checkpoint's batches up to the first to reach offset `total`, once that one has committed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batches = checkpoint_batches(stream.checkpoint)
        done = [b for b in batches if b.committed_s is not None and b.end_offsets >= total]
        if done:
            return [b for b in batches if b.batch_id <= done[0].batch_id]
        if not stream.process.is_running():
            status = stream.status()
            raise SystemExit(
                f"the streaming job stopped ({status.get('process')}): {status.get('error', '')}\n"
                f"{stream.process.log_tail(40)}"
            )
        time.sleep(0.1)
    raise SystemExit(
        f"the job did not read {total:,} events within {timeout_s:.0f}s (1-minute load average"
        f" {os.getloadavg()[0]:.1f}):\n{stream.process.log_tail(15)}"
    )


def job_steps(stream: LocalStream) -> list[dict[str, float]]:
    """Each batch's seconds per step, as the job logs them: validate (parse, validate, cache and count),
    each table's append (its Spark job and commit, all three at once), the whole batch."""
    steps = []
    for line in stream.process.log_file.read_text(errors="replace").splitlines():
        match = STEP.search(line)
        if match:
            steps.append(ast.literal_eval(match.group(2)))
    return steps


def step_line(steps: list[dict[str, float]], topic: str) -> str:
    """Mean seconds per step over `steps`, tables by their role."""
    names = {TABLES.raw(topic): "raw", TABLES.typed(topic): "typed", TABLES.dead_letters: "dead letters"}
    keys = ["validate", *names, "batch"]
    means = {k: sum(s.get(k, 0.0) for s in steps) / len(steps) for k in keys}
    return ", ".join(f"{names.get(k, k)} {v:.2f}" for k, v in means.items())


def plain_consumer(
    bootstrap: str, topic: str, total: int, partitions: int, fetch: dict[str, int]
) -> dict[str, Any]:
    """Every message of `topic` from the beginning, counted (messages and bytes) and nothing else.

    The first pass over the topic warms the consumer up (the second runs at up to twice its speed) and
    is not counted; then as many passes as it takes to read for MIN_CONSUMER_S, each one clocked from its
    first message on."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-plain-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # A fetch that finds nothing new waits this long (500 ms by default): only at the start of
            # each pass; a backlog's fetches come back at once either way.
            "fetch.wait.max.ms": 10,
            "log_level": 3,
            **fetch,
        }
    )
    events = size = passes = 0
    seconds = startup_s = 0.0
    try:
        while passes < 2 or seconds < MIN_CONSUMER_S:
            assigned = time.perf_counter()
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
            deadline = time.monotonic() + 120
            messages = 0
            started: float | None = None
            while messages < total and time.monotonic() < deadline:
                # consume() returns once it has this many, or at the timeout: the first call asks for one
                # message (the clock starts there), later ones never for more than is left.
                want = 1 if started is None else min(10_000, total - messages)
                for message in consumer.consume(want, timeout=1.0):
                    if message.error():
                        raise SystemExit(f"consumer error: {message.error()}")
                    messages += 1
                    size += len(message.value() or b"") + len(message.key() or b"")
                if started is None and messages:
                    started = time.perf_counter()
            ended = time.perf_counter()
            if messages != total or started is None:
                raise SystemExit(f"the plain consumer read {messages:,} of {total:,} messages")
            if passes:
                events += messages - 1  # the first one started the clock
                seconds += ended - started
            startup_s = max(startup_s, started - assigned)
            passes += 1
    finally:
        consumer.close()
    return {
        "events": events,
        "seconds": seconds,
        "bytes_per_event": size / (passes * total),
        "passes": passes,
        "startup_s": startup_s,
    }


class MinimalPeer:
    """bench/streaming_peer.py as a process, started beside the job: it builds its session, then waits to
    be let go, and reads the topic to its end once it is."""

    def __init__(
        self, settings: Settings, topic: str, schema: Path, checkpoint: Path, max_offsets: int, total: int
    ) -> None:
        self.settings, self.total, self.checkpoint = settings, total, checkpoint
        self.table = f"{TABLES.namespace}.bench_minimal__{topic}"
        self.ready_file = checkpoint.with_name(checkpoint.name + ".ready")
        cmd = [sys.executable, str(PEER), "--topic", topic, "--schema", str(schema), "--table", self.table]
        cmd += ["--checkpoint", str(checkpoint), "--max-offsets-per-trigger", str(max_offsets)]
        cmd += ["--ready-file", str(self.ready_file)]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (the process writes it until stop())
        self.process = subprocess.Popen(
            cmd, env={**os.environ, **settings_env(settings)}, stdin=subprocess.PIPE, stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ready_at(self) -> float | None:
        """When its session was up (the ready file's mtime), if it is."""
        return self.ready_file.stat().st_mtime if self.ready_file.is_file() else None

    def run(self) -> tuple[list[Batch], int]:
        """Let it go and wait for it to end: its batches and its table's rows."""
        deadline = time.monotonic() + 180
        while self.ready_at() is None and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(b"go\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # it ended already: its exit code and log say why
        try:
            code = self.process.wait(timeout=180 + self.total / 500)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if code != 0:
            self.log.seek(0)
            raise SystemExit(
                f"the minimal peer failed ({code}):\n{self.log.read()[-4000:].decode(errors='replace')}"
            )
        rows = total_records(glue_catalog(self.settings).load_table(self.table).current_snapshot())
        return checkpoint_batches(self.checkpoint), rows

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


def total_records(snapshot: Snapshot | None) -> int:
    """The table's rows as of `snapshot`, from its summary."""
    summary = snapshot.summary if snapshot is not None else None
    return int(summary["total-records"] or 0) if summary is not None else 0


def table_counts(settings: Settings, topic: str) -> dict[str, int]:
    """Rows in raw (and distinct Kafka coordinates), typed and dead letters, from the current snapshots."""
    catalog = glue_catalog(settings)

    def total(name: str) -> int:
        return total_records(catalog.load_table(name).current_snapshot())

    raw = catalog.load_table(TABLES.raw(topic)).scan(selected_fields=("partition", "offset")).to_arrow()
    coordinates = pc.add(pc.multiply(raw["partition"].cast(pa.int64()), 1 << 40), raw["offset"])
    return {
        "raw": total(TABLES.raw(topic)),
        "raw_distinct": pc.count_distinct(coordinates).as_py(),
        "typed": total(TABLES.typed(topic)),
        "dead": total(TABLES.dead_letters),  # a fresh stack: this topic's only
    }


def raw_snapshots(settings: Settings, topic: str) -> dict[int, tuple[float, int]]:
    """Each snapshot of the raw table: (commit time s, total records)."""
    table = glue_catalog(settings).load_table(TABLES.raw(topic))
    return {s.snapshot_id: (s.timestamp_ms / 1000, total_records(s)) for s in table.metadata.snapshots}


def landing_latencies(settings: Settings, topic: str, before: set[int]) -> dict[str, list[float]]:
    """Per event added by a raw snapshot not in `before`: landed - Kafka timestamp, in seconds, by the
    snapshot's commit time and by `_ingested_at`."""
    table = glue_catalog(settings).load_table(TABLES.raw(topic))
    committed_us = {s.snapshot_id: s.timestamp_ms * 1000 for s in table.metadata.snapshots}
    entries = table.inspect.entries().select(["status", "snapshot_id", "data_file"]).to_pylist()
    by_commit: list[float] = []
    by_ingested: list[float] = []
    for entry in entries:
        if entry["status"] == 2 or entry["snapshot_id"] in before:  # deleted, or from the backlog
            continue
        path = entry["data_file"]["file_path"]
        with table.io.new_input(path).open() as f:
            rows = pq.read_table(f, columns=["kafka_timestamp", "_ingested_at"])
        produced = rows["kafka_timestamp"].cast(pa.int64()).to_pylist()  # microseconds
        ingested = rows["_ingested_at"].cast(pa.int64()).to_pylist()
        commit = committed_us[entry["snapshot_id"]]
        by_commit += [(commit - p) / 1e6 for p in produced]
        by_ingested += [(i - p) / 1e6 for i, p in zip(ingested, produced, strict=True)]
    return {"commit": by_commit, "ingested": by_ingested}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_EVENTS:,} events, a shorter latency run"
    )
    parser.add_argument("--events", type=int, help=f"override M, the backlog's events ({EVENTS:,})")
    parser.add_argument("--rate", type=float, help=f"events/s of the latency run ({RATE:,.0f})")
    parser.add_argument("--seconds", type=float, help=f"length of the latency run ({LATENCY_S:.0f})")
    args = parser.parse_args()
    total = args.events or (QUICK_EVENTS if args.quick else EVENTS)
    rate = args.rate or (QUICK_RATE if args.quick else RATE)
    latency_events = round(rate * (args.seconds or (QUICK_LATENCY_S if args.quick else LATENCY_S)))
    # M / BATCHES over the backlog (plus a little: Spark splits the limit across partitions rounding down,
    # which would leave a few events for an extra batch), and room for two intervals of the latency run.
    max_offsets = max(math.ceil(total / BATCHES) + 10 * DEFAULT_PARTITIONS, math.ceil(rate * TRIGGER_S * 2))
    topic = f"bench_clicks_{uuid.uuid4().hex[:6]}"
    run_started = time.perf_counter()

    phases: dict[str, float] = {}  # where the run's time went
    mark = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = phases.get(name, 0.0) + now - mark
        mark = now

    with tempfile.TemporaryDirectory(prefix="dp-bench-streaming-") as tmp:
        stack = LocalStack(paths=LocalPaths(Path(tmp) / "local"))
        stream = LocalStream(stack.paths, name=topic)
        peer: MinimalPeer | None = None
        try:
            settings = stack.up()
            phase("stack up")
            bootstrap = stack.kafka_bootstrap() or ""
            schemas = Path(tmp) / "schemas"
            schemas.mkdir()
            shutil.copy(SCHEMA, schemas / f"{topic}.json")

            produced = produce_events(bootstrap, topic, total, None, MALFORMED_SHARE, seed=1)
            phase("produce")
            job_started, loads = time.time(), [os.getloadavg()[0]]
            # The peer's JVM and session start beside the job's; it waits to be let go.
            peer = MinimalPeer(
                settings, topic, schemas / f"{topic}.json", Path(tmp) / "peer-checkpoint", max_offsets, total
            )
            stream.start(settings, [topic], trigger=TRIGGER, max_offsets=max_offsets, schemas=schemas)
            backlog = wait_until_read(stream, total, timeout_s=180 + total / 500)
            loads.append(os.getloadavg()[0])
            steps = job_steps(stream)
            phase("job")
            snapshots = raw_snapshots(settings, topic)
            counts = table_counts(settings, topic)
            phase("counts")
            # The job is idle now (nothing new on the topic): the plain consumer has the machine to itself.
            plain = plain_consumer(bootstrap, topic, total, DEFAULT_PARTITIONS, BIG_FETCHES)
            plain_default = plain_consumer(bootstrap, topic, total, DEFAULT_PARTITIONS, {})
            phase("consumers")
            peer_ready = peer.ready_at()
            loads.append(os.getloadavg()[0])
            peer_batches, peer_rows = peer.run()
            loads.append(os.getloadavg()[0])
            phase("minimal peer")

            latency_run = produce_events(bootstrap, topic, latency_events, rate, MALFORMED_SHARE, seed=2)
            wait_until_read(stream, total + latency_events, timeout_s=120)
            latency_steps = job_steps(stream)[len(steps) :]
            loads.append(os.getloadavg()[0])
            phase("latency run")
            stream.stop()
            phase("job stop")
            latencies = landing_latencies(settings, topic, set(snapshots))
            final = table_counts(settings, topic)
            phase("counts")
        finally:
            if peer is not None:
                peer.stop()
            stream.stop()
            stack.down()
            phase("stack down")
    run_s = time.perf_counter() - run_started

    first, last = backlog[0], backlog[-1]
    assert last.committed_s is not None
    job_s = last.committed_s - first.started_s
    startup_s = first.started_s - job_started
    raw_full_s = min(at for at, rows in snapshots.values() if rows >= total) - first.started_s
    durations = [
        (b.end_offsets - before, (b.committed_s or 0) - b.started_s)
        for b, before in zip(backlog, [0] + [b.end_offsets for b in backlog], strict=False)
    ]
    plain_rate = plain["events"] / plain["seconds"]
    job_rate = total / job_s
    peer_end = peer_batches[-1].committed_s if peer_batches else None
    peer_s = (peer_end or math.nan) - (peer_batches[0].started_s if peer_batches else math.nan)
    peer_rate = total / peer_s

    print(
        f"{total:,} clickstream events ({MALFORMED_SHARE:.0%} malformed,"
        f" {plain['bytes_per_event']:.0f} B each on average) on a {DEFAULT_PARTITIONS}-partition"
        f" topic; job on local[2], trigger {TRIGGER!r}, maxOffsetsPerTrigger {max_offsets:,}"
    )
    print(f"{'':46} {'events':>10} {'seconds':>8} {'events/s':>10}")
    rows = [
        ("produce (acks=all, as fast as acknowledged)", produced.produced, produced.seconds),
        ("plain consumer, 16 MB fetches (the limit)", plain["events"], plain["seconds"]),
        ("plain consumer, default fetch sizes", plain_default["events"], plain_default["seconds"]),
        ("minimal Spark query -> Iceberg (the peer)", total, peer_s),
        ("streaming job -> Iceberg (sustained)", total, job_s),
    ]
    if len(durations) > 1:
        rows.append(
            (
                "  the same without its first batch",
                total - durations[0][0],
                last.committed_s - backlog[1].started_s,
            )
        )
    for label, events, seconds in rows:
        print(f"{label:46} {events:>10,} {seconds:>8.2f} {events / seconds:>10,.0f}")
    print(
        f"  job: first batch's trigger -> last backlog batch committed (raw, typed, dead letters);"
        f" raw held all {total:,} rows after {raw_full_s:.2f} s"
    )
    print("  its batches: " + ", ".join(f"{n:,} events in {d:.1f} s" for n, d in durations))
    print(
        f"  minimal peer: Kafka rows + from_json into one Iceberg table, availableNow, {len(peer_batches)}"
        f" batches: " + ", ".join(f"{d:.1f} s" for d in batch_seconds(peer_batches))
    )
    if len(steps) > 1:
        print(
            f"  job's seconds per step and batch (mean of batches 1-{len(steps) - 1}, the first apart;"
            f" the appends run at once): {step_line(steps[1:], topic)}; first batch: {step_line(steps[:1], topic)}"
        )
    print(f"  job start (process, JVM, Spark session, tables) -> first batch: {startup_s:.1f} s")
    print(
        "  minimal peer's session up "
        + (
            f"{first.started_s - peer_ready:.1f} s before the job's first batch"
            if peer_ready is not None and peer_ready <= first.started_s
            else "only after the job's first batch had started (it slowed that batch)"
        )
    )
    print(
        f"  plain consumers: {plain['passes']} and {plain_default['passes']} passes over the topic (the"
        " first, warming up, not counted); assign -> first message"
        f" {max(plain['startup_s'], plain_default['startup_s']):.2f} s at most"
    )
    print(
        f"  1-minute load average at job start {loads[0]:.1f}, at backlog end {loads[1]:.1f}, minimal peer"
        f" {loads[2]:.1f} -> {loads[3]:.1f}, latency run end {loads[4]:.1f}"
        f" ({os.cpu_count()} CPUs): anything else running slows the job most"
    )
    ok = (
        counts["raw"] == counts["raw_distinct"] == total
        and counts["typed"] + counts["dead"] == total
        and (counts["typed"], counts["dead"]) == (produced.valid, produced.malformed)
        and final["raw"] == final["raw_distinct"] == total + latency_events
        and final["typed"] + final["dead"] == total + latency_events
        and peer_rows == total
    )
    print(
        f"counts after the backlog: raw {counts['raw']:,} ({counts['raw_distinct']:,} distinct),"
        f" typed {counts['typed']:,} + dead letters {counts['dead']:,} = {counts['typed'] + counts['dead']:,};"
        f" after the latency run: raw {final['raw']:,}, typed + dead {final['typed'] + final['dead']:,}"
        f"; minimal peer {peer_rows:,} -> {'OK' if ok else 'MISMATCH'}"
    )
    by_commit, by_ingested = latencies["commit"], latencies["ingested"]
    print(
        f"latency: {latency_run.produced:,} events at {rate:,.0f}/s ({latency_run.seconds:.1f} s),"
        " the job running on"
    )
    print(f"  {'landed at':44} {'events':>8} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    for label, values in (
        ("raw table's snapshot commit", by_commit),
        ("_ingested_at (as the batch's writes begin)", by_ingested),
    ):
        print(
            f"  {label:44} {len(values):>8,} {quantile(values, 0.5):>7.2f} {quantile(values, 0.95):>7.2f}"
            f" {max(values):>7.2f}"
        )
    print(
        f"  each minus the event's Kafka timestamp (producer CreateTime); trigger {TRIGGER!r}: p95 by commit"
        f" {quantile(by_commit, 0.95) / TRIGGER_S:.2f} x the interval (goal: at most 2)"
    )
    if latency_steps:
        print(
            f"  its {len(latency_steps)} batches, seconds per step (mean): {step_line(latency_steps, topic)}"
        )
    print(f"whole run {run_s:.0f} s: " + ", ".join(f"{name} {sec:.1f}" for name, sec in phases.items()))
    if not ok or len(by_commit) != latency_events:
        raise SystemExit(f"counts do not add up: {counts}, {final}, {len(by_commit)} latencies")
    print(f"RATIO streaming {job_rate / plain_rate:.4f}")
    print(f"RATIO streaming_vs_spark {job_rate / peer_rate:.4f}")


if __name__ == "__main__":
    main()
