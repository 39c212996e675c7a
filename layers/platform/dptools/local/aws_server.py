"""The local AWS: moto in server mode on loopback, whose state outlives the process.

moto keeps everything in memory. On SIGTERM this process pickles the backends that hold data (the lake
in S3, the Glue catalog, DynamoDB state items, secrets, EventBridge buses) and loads them again on the
next start, so `dp stack down` then `dp stack up` keeps the lake and the catalog. SQS queues and
EventBridge rules are recreated from template.yaml at every `up`; messages still in a queue are lost.

Run as `python -m dptools.local.aws_server --port N --state FILE`.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from dataplatform.settings import Profile, Settings
from dptools.local import moto_fidelity, stepfunctions
from dptools.local.batch_jobs import SUBMIT_JOB_SYNC, LocalBatchJobs
from dptools.local.emr_serverless_jobs import START_JOB_RUN_SYNC, LocalSparkJobs, job_env_file
from dptools.local.lambda_tasks import LAMBDA_INVOKE, LocalLambdaInvoke
from dptools.local.paths import project_root

PERSISTED_SERVICES = ("s3", "glue", "dynamodb", "secretsmanager", "events", "stepfunctions", "rds")

log = logging.getLogger("dptools.local.aws")


def command(port: int, state: Path) -> list[str]:
    """The command line that runs this server on `port`, keeping its state in `state`."""
    return [sys.executable, "-m", __name__, "--port", str(port), "--state", str(state)]


def save_state(path: Path) -> None:
    from moto.backends import get_backend

    state = {name: dict(get_backend(name)) for name in PERSISTED_SERVICES}  # type: ignore[call-overload]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def load_state(path: Path) -> list[str]:
    """Put the pickled backends in place; returns the services restored."""
    from moto.backends import get_backend

    if not path.is_file():
        return []
    with open(path, "rb") as handle:
        state: dict[str, Any] = pickle.load(handle)
    for name, accounts in state.items():
        live = get_backend(name)  # type: ignore[call-overload]
        live.clear()
        live.update(accounts)
    _reindex_buckets()
    return sorted(state)


def _reindex_buckets() -> None:
    """moto finds a bucket's account through an index that FakeBucket's constructor fills; unpickling
    skips constructors, so rebuild it, or a CreateBucket would replace a restored bucket by an empty one."""
    from moto.s3.models import s3_backends

    for account_id, regions in s3_backends.items():
        for backend in regions.values():
            for name, bucket in backend.buckets.items():
                s3_backends.bucket_accounts[name] = (bucket.partition, account_id)


def _run_state_machines(port: int, state_file: Path) -> None:
    """Run state machines for real, their Batch jobs and EMR Serverless job runs as processes here (logs
    beside the state file; job runs get the environment `dp stack up` writes there)."""
    stepfunctions.enable_execution(port)
    settings = Settings(profile=Profile.LOCAL, endpoint_url=f"http://127.0.0.1:{port}")
    jobs = LocalBatchJobs(settings, state_file.parent / "batch-jobs")
    stepfunctions.register(SUBMIT_JOB_SYNC, jobs)
    spark_jobs = LocalSparkJobs(job_env_file(state_file), state_file.parent / "spark-jobs", project_root())
    stepfunctions.register(START_JOB_RUN_SYNC, spark_jobs)
    functions = LocalLambdaInvoke(
        job_env_file(state_file), state_file.parent / "lambda-tasks", project_root()
    )
    stepfunctions.register(LAMBDA_INVOKE, functions)


def serve(port: int, state_file: Path) -> None:
    from moto.server import ThreadedMotoServer

    restored = load_state(state_file)
    log.info("restored %s from %s", ", ".join(restored) or "nothing", state_file)
    _run_state_machines(port, state_file)
    moto_fidelity.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    log.info("moto server listening on 127.0.0.1:%d", port)

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    stopping.wait()
    server.stop()
    save_state(state_file)
    log.info("state saved to %s", state_file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve(args.port, args.state)


if __name__ == "__main__":
    main()
