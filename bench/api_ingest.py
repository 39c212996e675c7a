"""Pulling a paginated REST endpoint into the raw zone, against dlt's `rest_api` source doing the same.

One run starts the local AWS (moto) and the sample reviews API serving N records (1,000,000; 100,000 with
--quick) in a process of its own, then pulls the same cursor-paginated endpoint (`/v1/reviews`, pages
of 1,000, API key in a header) twice, each puller in a fresh process so its peak RSS is its own:

- ours: `api_ingest`'s `ingest()` as the Lambda runs it: HTTP with retries and the rate limiter's
  bookkeeping, pages through pyarrow's JSON reader into zstd Parquet, the upload to S3, one Iceberg
  commit in Glue, the DynamoDB watermark and the RawDataLanded event;
- dlt: bench/dlt_peer.py, dlt's `rest_api` source to local Parquet files (tuned as its docs advise).

Both count the records that landed (ours from the Iceberg table, dlt's from its Parquet footers).
Last line: `RATIO api_ingest <ours_records_per_s / dlt_records_per_s>`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from dataplatform.settings import load_settings, settings_env
from dptools.local import aws_server, sample_api
from dptools.local.paths import project_root
from dptools.local.processes import ManagedProcess, free_port
from dptools.local.sample_api import URL_ENV
from dptools.samples.reviews_api import ReviewsApiConfig

PAGE_SIZE = 1_000
API_KEY = "bench-api-key"
SOURCE = "bench_reviews"


ENDPOINTS: dict[str, dict[str, Any]] = {
    # Offset pagination with a total: every page is known after the first, so ours fetches them
    # concurrently (page_concurrency); dlt's offset paginator walks them one after another.
    "offset": {
        "path": "/v1/reviews/by-offset",
        "record_path": "items",
        "pagination": {"type": "offset", "limit": PAGE_SIZE, "total_path": "total"},
        "params": {},
    },
    # A cursor chains each page to the one before: both pull one page at a time.
    "cursor": {
        "path": "/v1/reviews",
        "record_path": "data",
        "pagination": {"type": "cursor", "cursor_path": "meta.next_cursor"},
        "params": {"limit": PAGE_SIZE},
    },
}


def _definition(base_url: str, pagination: str) -> dict[str, Any]:
    return {
        "name": SOURCE,
        "base_url": base_url,
        "auth": {"type": "api_key", "secret": f"bench/{SOURCE}", "location": "header", "name": "X-API-Key"},
        "schedule": "rate(1 hour)",
        "expected_every": "PT6H",
        "endpoints": [
            {"name": "reviews", "primary_key": ["review_id"], "max_pages": 100_000, **ENDPOINTS[pagination]}
        ],
    }


def run_ours(base_url: str, pagination: str) -> None:
    """The child process: one scheduled run of api_ingest, timed; prints one JSON line."""
    from dataplatform.api_ingest.definition import SourceDefinition
    from dataplatform.api_ingest.request import IngestEvent
    from dataplatform.api_ingest.run import IngestDeps, ingest
    from dataplatform.aws import client

    # The shipped definitions load too (the deps read them); this stands in for their server's URL.
    settings = load_settings().with_overrides(source_env={URL_ENV: base_url})
    source = SourceDefinition.model_validate(_definition(base_url, pagination))
    client("secretsmanager", settings).create_secret(
        Name=f"{settings.secret_prefix}bench/{SOURCE}", SecretString=json.dumps({"api_key": API_KEY})
    )
    deps = replace(
        IngestDeps.from_settings(settings, project_root() / "functions/api_ingest/sources"),
        sources={SOURCE: source},
    )
    event = IngestEvent(source=SOURCE, endpoint="reviews", scheduled_time=datetime.now(UTC))
    started = time.perf_counter()
    result = ingest(event, deps)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the run's, before the check below
    landed = deps.catalog.load_table(result.table).scan(selected_fields=("review_id",)).to_arrow().num_rows
    print(
        f"peak RSS with the count check: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "tool": "ours",
                "records": landed,
                "seconds": round(seconds, 3),
                "records_per_s": round(landed / seconds, 1),
                "peak_rss_mb": round(peak, 1),
                "pages": result.pages,
                "files": result.files,
            }
        )
    )


def _child(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[1]} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _start_api(run_dir: Path, total: int) -> tuple[ManagedProcess, str]:
    api = ManagedProcess("bench-reviews-api", run_dir)
    port = free_port()
    api.start(sample_api.command(port, ReviewsApiConfig(total=total, api_key=API_KEY)))
    url = f"http://127.0.0.1:{port}"
    api.wait_healthy(lambda: requests.get(f"{url}/health", timeout=2).ok, 30)
    return api, url


def _start_aws(run_dir: Path) -> tuple[ManagedProcess, dict[str, str]]:
    """moto alone (no Kafka, no dispatcher), with the template's resources provisioned."""
    from dataplatform.settings import Profile, Settings
    from dptools.local.deployment import LocalDeployment
    from dptools.local.provision import provision_resources

    aws = ManagedProcess("bench-aws", run_dir)
    port = free_port()
    aws.start(aws_server.command(port, run_dir / "moto.pickle"))
    endpoint = f"http://127.0.0.1:{port}"
    deployment = LocalDeployment(project_root() / "template.yaml", endpoint)
    settings = Settings(
        profile=Profile.LOCAL,
        endpoint_url=endpoint,
        raw_bucket=deployment.ref("RawBucket"),
        event_bus=deployment.ref("PlatformBus"),
        ingest_state_table=deployment.ref("IngestStateTable"),
        secret_prefix=f"{deployment.stack_name}/",
    )
    from dataplatform.aws import client

    aws.wait_healthy(lambda: client("s3", settings).list_buckets() is not None, 30)
    provision_resources(deployment, settings)
    return aws, settings_env(settings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100,000 records instead of 1,000,000")
    parser.add_argument("--records", type=int, help="override the number of records")
    parser.add_argument("--pagination", choices=sorted(ENDPOINTS), default="offset")
    parser.add_argument("--ours", metavar="BASE_URL", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.ours:
        run_ours(args.ours, args.pagination)
        return
    total = args.records or (100_000 if args.quick else 1_000_000)

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        aws, env = _start_aws(run_dir)
        api, url = _start_api(run_dir, total)
        try:
            ours = _child([sys.executable, __file__, "--ours", url, "--pagination", args.pagination], env)
            dlt = _child(
                [
                    sys.executable,
                    str(Path(__file__).parent / "dlt_peer.py"),
                    "--base-url",
                    url,
                    "--api-key",
                    API_KEY,
                    "--page-size",
                    str(PAGE_SIZE),
                    "--out",
                    str(run_dir / "dlt"),
                    "--endpoint",
                    ENDPOINTS[args.pagination]["path"],
                    "--paginator",
                    args.pagination,
                ]
            )
        finally:
            api.stop()
            aws.stop()

    path = ENDPOINTS[args.pagination]["path"]
    print(f"{total:,} review records from {path} ({args.pagination} pagination, pages of {PAGE_SIZE:,})")
    print(f"{'':6} {'records':>10} {'seconds':>8} {'records/s':>10} {'peak RSS MB':>12}")
    for row in (ours, dlt):
        print(
            f"{row['tool']:6} {row['records']:>10,} {row['seconds']:>8.2f} {row['records_per_s']:>10,.0f}"
            f" {row['peak_rss_mb']:>12.0f}"
        )
    if ours["records"] != total or dlt["records"] != total:
        raise SystemExit(
            f"record counts differ from the {total:,} served: ours {ours['records']}, dlt {dlt['records']}"
        )
    print(f"RATIO api_ingest {ours['records_per_s'] / dlt['records_per_s']:.2f}")


if __name__ == "__main__":
    main()
