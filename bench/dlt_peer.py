"""The dlt side of the REST-ingestion benchmark: dlt's `rest_api` source pulling one paginated endpoint
to Parquet files on the local filesystem.

Run as its own process by the benchmark:

    .venv/bin/python bench/dlt_peer.py --base-url http://127.0.0.1:PORT --api-key KEY \\
        --page-size 1000 --out DIR [--endpoint /v1/reviews] [--paginator cursor|offset]

With `--paginator offset` (and `--endpoint /v1/reviews/by-offset`) the source uses dlt's offset
paginator instead (`offset`/`limit` params, the count at `total`, records at `items`). By default, the endpoint takes `limit` and `cursor` query parameters, wants the key in the `X-API-Key` header, and
answers `{"data": [...], "meta": {"next_cursor": str | null}}`. The source is configured the way its
docs show: `api_key` auth in that header, the `cursor` paginator reading `meta.next_cursor` into the
`cursor` param, `data` as the data selector, `limit` as a fixed param, primary key `review_id`, write
disposition `append` (a plain full pull). The pipeline writes with the `filesystem` destination to a
`file://` bucket under --out, `loader_file_format="parquet"`, dataset `bench`.

Timed: the whole `pipeline.run(...)` (extract, normalize and load). Records are the rows dlt reports
for the root table(s) in the normalize step, checked against the row counts in the footers of the
Parquet files this load wrote (dlt's own `_dlt_*` tables left out); a mismatch is an error. Child
tables dlt unnests from lists (`tags` becomes `<table>__tags`) are loaded and checked but not counted
as records; their counts go to stderr. Peak RSS is `ru_maxrss` of this process plus that of its
largest reaped child (a normalize worker), KiB on Linux: an upper bound, since a forked worker's RSS
also counts the pages it shares with this process (stderr shows both parts, and CPU seconds).

The last stdout line is one JSON object; everything else goes to stderr:

    {"tool": "dlt", "records": N, "seconds": S, "records_per_s": R, "peak_rss_mb": M, "dlt_version": "..."}

Repeatable: this pipeline's working dir and the dataset dir under --out are removed first, so each run
is a fresh full pull. Hermetic: before dlt is imported, telemetry is switched off
(`RUNTIME__DLTHUB_TELEMETRY=false`), Sentry/Slack/dlthub-platform settings are removed from the
environment, plugins are not loaded, and `DLT_PROJECT_DIR`/`DLT_DATA_DIR` point into --out; after the
import dlt's global dir (`~/.dlt`, `/var/dlt` as root) is moved into --out as well. So dlt reads no
`.dlt/` config, writes nothing outside --out, needs no configuration beyond this file, and makes no
network call but to --base-url.

Tuning: dlt's documented knobs ("Optimizing dlt" in its docs and the `data_writer` / `normalize` / `load`
config specs in dlt/common/data_writers/buffered.py, dlt/normalize/configuration.py,
dlt/load/configuration.py), each overridable by a flag where it is a trade-off:

- Pages are yielded whole by the rest_api source (--page-size items per yield), the docs' first advice
  ("yield pages instead of rows"); nothing to set.
- `normalize.workers` = number of CPUs (default 1, in-process). Normalize is the CPU-bound step
  (flattening, `_dlt_id`s, type coercion, ISO timestamps parsed per value) and runs after extract has
  finished, so using every core then takes nothing from extract or the API server. The pool forks
  (Linux default; spawn would re-import dlt in each worker).
- `sources.data_writer.file_max_items` = 20000 (default: no rotation). Without rotation one resource is
  one extract file, which one worker normalizes whatever the worker count; the docs pair rotation with
  workers for exactly this. dlt hands each worker an equal number of *files*, and the pipeline-state
  file counts as one, so files need to be several per worker to balance: at 200k records 50000 gave
  workers 3 and 1 review files, 20000 gives 5 and 5.
- `data_writer.disable_compression` = true (default false): the intermediary extract files are gzipped
  by default, which on a local disk is CPU spent for nothing (it more than doubled extract time here,
  ~3 s to ~7.5 s for 200k records). The Parquet output keeps dlt's default snappy compression.
- `data_writer.buffer_max_items` = 10000 (default 5000): fewer, larger appends to the intermediary and
  output files, for a few MB more memory; within noise here.
- `load.workers` stays at its default (20 threads): loading is a local file copy, a few ms.
- The resource is not `parallelized` (--parallelized to try): with one cursor-paginated endpoint each
  page needs the previous page's cursor and there is nothing to run alongside it; it measured the same.
- Nesting stays at dlt's default (nested objects flattened into columns, lists into child tables): the
  output a dlt user gets from this source. Timestamps are detected and typed as dlt does by default.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

TOOL = "dlt"
PIPELINE_NAME = "bench_dlt_peer"
DATASET = "bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--api-key", required=True, help="sent in the X-API-Key header")
    parser.add_argument("--page-size", type=int, default=1000, help="the `limit` query parameter")
    parser.add_argument("--out", type=Path, required=True, help="directory for the bucket and pipelines dir")
    parser.add_argument("--endpoint", default="/v1/reviews", help="path of the paginated endpoint")
    parser.add_argument(
        "--paginator",
        choices=("cursor", "offset"),
        default="cursor",
        help="cursor: meta.next_cursor into `cursor`, records at `data`; "
        "offset: `offset`/`limit` with the count at `total`, records at `items`",
    )
    parser.add_argument("--normalize-workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--buffer-max-items", type=int, default=10_000)
    parser.add_argument(
        "--extract-file-max-items", type=int, default=20_000, help="0: no rotation of extract files"
    )
    parser.add_argument("--parallelized", action="store_true", help="run the resource in a worker thread")
    return parser.parse_args(argv)


def configure_environment(args: argparse.Namespace, out: Path) -> None:
    """Settings dlt reads from the environment; must run before dlt is imported."""
    for name in ("RUNTIME__SENTRY_DSN", "RUNTIME__SLACK_INCOMING_HOOK", "RUNTIME__DLTHUB_DSN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DLT_DISABLE_PLUGINS": "true",
            "DLT_PROJECT_DIR": str(out),
            "DLT_DATA_DIR": str(out / "dlt_data"),
            "RUNTIME__LOG_LEVEL": "WARNING",
            "DATA_WRITER__BUFFER_MAX_ITEMS": str(args.buffer_max_items),
            "DATA_WRITER__DISABLE_COMPRESSION": "true",
            "NORMALIZE__WORKERS": str(max(1, args.normalize_workers)),
        }
    )
    if args.extract_file_max_items > 0:
        os.environ["SOURCES__DATA_WRITER__FILE_MAX_ITEMS"] = str(args.extract_file_max_items)


def keep_global_dir_in(path: Path) -> None:
    """Point dlt's global dir (`~/.dlt`, `/var/dlt` for root) into --out, and re-read config from there.

    `DLT_DATA_DIR` moves pipelines data but not the global dir, where dlt writes `.anonymous_id` on every
    pipeline step even with telemetry off (nothing is sent: the tracker has no endpoint then). There is
    no setting for it; dlt's `RunContext` has `_global_dir` for overriding it on an instance (private,
    hence the type check: on another dlt the directory is left alone, with a note on stderr).
    """
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
    from dlt.common.runtime.run_context import RunContext

    pluggable = Container()[PluggableRunContext]
    if isinstance(pluggable.context, RunContext):
        pluggable.context._global_dir = str(path)
        pluggable.reload_providers()
    else:
        log(f"dlt_peer: unexpected run context {type(pluggable.context).__name__}; global dir left alone")


PAGINATORS: dict[str, Any] = {
    "cursor": lambda size: {"type": "cursor", "cursor_path": "meta.next_cursor", "cursor_param": "cursor"},
    "offset": lambda size: {"type": "offset", "limit": size, "total_path": "total"},
}


def rest_api_config(args: argparse.Namespace) -> dict[str, Any]:
    endpoint = args.endpoint.lstrip("/")
    return {
        "client": {
            "base_url": args.base_url.rstrip("/") + "/",
            "auth": {"type": "api_key", "name": "X-API-Key", "api_key": args.api_key, "location": "header"},
            "paginator": PAGINATORS[args.paginator](args.page_size),
        },
        "resource_defaults": {"write_disposition": "append"},
        "resources": [
            {
                "name": endpoint.rsplit("/", 1)[-1] or "records",
                "primary_key": "review_id",
                "parallelized": args.parallelized,
                "endpoint": {
                    "path": endpoint,
                    "params": {"limit": args.page_size} if args.paginator == "cursor" else {},
                    "data_selector": "data" if args.paginator == "cursor" else "items",
                },
            }
        ],
    }


def parquet_rows(bucket: Path, load_ids: set[str]) -> dict[str, int]:
    """Rows per table in the Parquet files of these loads, from the file footers; `_dlt_*` tables left out."""
    import pyarrow.parquet as pq

    rows: dict[str, int] = {}
    dataset = bucket / DATASET
    for path in sorted(dataset.rglob("*.parquet")):
        table = path.relative_to(dataset).parts[0]
        if table.startswith("_dlt_") or not any(path.name.startswith(f"{i}.") for i in load_ids):
            continue
        rows[table] = rows.get(table, 0) + pq.ParquetFile(path).metadata.num_rows
    return rows


def peak_rss_mb() -> float:
    """Peak RSS of this process plus the largest reaped child's (KiB on Linux)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    log(f"peak rss: self {own.ru_maxrss / 1024:.1f} MB, largest child {children.ru_maxrss / 1024:.1f} MB")
    cpu = [u.ru_utime + u.ru_stime for u in (own, children)]
    log(f"cpu seconds (whole process): self {cpu[0]:.2f}, children {cpu[1]:.2f}")
    return (own.ru_maxrss + children.ru_maxrss) / 1024


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    configure_environment(args, out)

    import dlt
    from dlt.sources.rest_api import rest_api_source

    keep_global_dir_in(out / "dlt_global")
    bucket = out / "bucket"
    for own in (out / "pipelines" / PIPELINE_NAME, bucket / DATASET):
        if own.exists():
            log(f"dlt_peer: removing {own} from an earlier run")
            shutil.rmtree(own)
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(out / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=bucket.as_uri()),
        dataset_name=DATASET,
    )
    source = rest_api_source(rest_api_config(args), name="reviews_api")  # type: ignore[arg-type]

    started = time.perf_counter()
    load_info = pipeline.run(source, loader_file_format="parquet")
    seconds = time.perf_counter() - started
    load_info.raise_on_failed_jobs()
    log(str(load_info))

    trace = pipeline.last_trace
    normalize_info = trace.last_normalize_info if trace else None
    if trace is None or normalize_info is None:
        raise SystemExit("dlt_peer: no normalize info in the pipeline trace")
    for step in trace.steps:
        if step.finished_at is not None:
            log(f"step {step.step}: {(step.finished_at - step.started_at).total_seconds():.2f} s")
    schema = pipeline.default_schema
    root_tables = {name for name in schema.data_table_names() if schema.tables[name].get("parent") is None}
    reported = {t: n for t, n in normalize_info.row_counts.items() if not t.startswith("_dlt_")}
    on_disk = parquet_rows(bucket, set(load_info.loads_ids))
    log(f"rows reported by normalize: {reported}")
    log(f"rows in parquet footers:    {on_disk}")
    if reported != on_disk:
        raise SystemExit(f"dlt_peer: normalize reported {reported} rows but the parquet files hold {on_disk}")
    records = sum(n for t, n in on_disk.items() if t in root_tables)

    print(
        json.dumps(
            {
                "tool": TOOL,
                "records": records,
                "seconds": round(seconds, 3),
                "records_per_s": round(records / seconds, 1) if seconds > 0 else 0.0,
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "dlt_version": dlt.__version__,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
