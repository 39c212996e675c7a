"""`dp smoke` and `dp demo`: the flows of dptools.demo with progress on the terminal."""

from __future__ import annotations

from dptools.cli.console import fail, info, ok, out, progress
from dptools.demo.flows import DemoError, Reporter, run_demo, smoke
from dptools.demo.smoke import SmokeError
from dptools.local.stack import LocalStack

REPORTER = Reporter(progress=progress, ok=ok, info=info)


def smoke_command() -> None:
    """Run the smoke flow against the running local stack."""
    try:
        smoke(LocalStack(), REPORTER)
    except SmokeError as exc:
        fail(f"smoke flow failed: {exc}")


def demo_command() -> None:
    """Bring the local stack up, run every demo flow with progress, and say where to look."""
    stack = LocalStack()
    try:
        settings = run_demo(stack, REPORTER)
    except SmokeError as exc:
        fail(f"smoke flow failed: {exc}")
    except DemoError as exc:
        fail(str(exc))
    endpoint = settings.endpoint_url
    out.rule("where to look")
    out.print(f"local AWS (moto):  {endpoint}  (e.g. aws --endpoint-url {endpoint} s3 ls)")
    out.print(f"Kafka bootstrap:   {settings.kafka_bootstrap}")
    out.print(f"raw bucket:        s3://{settings.raw_bucket}")
    out.print(f"sample API:        {settings.source_env.get('DP_SOURCE_REVIEWS_URL')}  (GET /v1/reviews)")
    out.print(f"stack state, logs: {stack.paths.run}")
    out.print("next: `dp stack status`, `dp invoke FUNCTION -e events/...`, `dp stack down`")
