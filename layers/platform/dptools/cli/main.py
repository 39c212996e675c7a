"""`dp`: the local stack, docker-free invocation of functions, the smoke flow and the demo."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dataplatform.settings import Profile, SettingsError, parse_profile
from dptools.local.paths import project_root
from dptools.local.processes import StackError
from dptools.local.stack import LocalStack
from dptools.sam.invoke import EventFileError, EventMismatchError
from dptools.sam.template import TemplateError

app = typer.Typer(help="The data platform's command line tool.", no_args_is_help=True, add_completion=False)
stack_app = typer.Typer(help="The local stack: moto as the local AWS, a Kafka broker, the event dispatcher.")
app.add_typer(stack_app, name="stack")
ingest_app = typer.Typer(help="REST API ingestion (functions/api_ingest): backfills.")
app.add_typer(ingest_app, name="ingest")
streaming_app = typer.Typer(help="The Kafka -> raw streaming job: on the local stack, or on EMR Serverless.")
app.add_typer(streaming_app, name="streaming")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

BAD_INPUT = 2


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _progress(message: str) -> None:
    out.print(f"[cyan]>[/] {message}", highlight=False)


@stack_app.command("up")
def stack_up(
    schedules: Annotated[
        bool, typer.Option("--schedules", help="Fire the template's schedules too.")
    ] = False,
) -> None:
    """Start the local stack (idempotent) and wire the template's event sources onto it."""
    try:
        settings = LocalStack().up(schedules=schedules, progress=_progress)
    except StackError as exc:
        _fail(str(exc))
    out.print(f"[green]stack up[/]: AWS at {settings.endpoint_url}, Kafka at {settings.kafka_bootstrap}")


@stack_app.command("down")
def stack_down() -> None:
    """Stop every part; the lake, the catalog and Kafka's topics are kept under .local/."""
    LocalStack().down(progress=_progress)
    out.print("[green]stack down[/]")


@stack_app.command("status")
def stack_status() -> None:
    """Each part's state, and the events waiting in each function's dead-letter queue."""
    stack = LocalStack()
    table = Table("part", "state", "pid", "detail")
    colours = {"running": "green", "stopped": "yellow", "crashed": "bold red"}
    statuses = stack.status()
    for part in statuses:
        table.add_row(part.name, f"[{colours[part.state]}]{part.state}[/]", str(part.pid or ""), part.detail)
    out.print(table)
    for function, count in stack.dead_letters().items():
        style = "bold red" if count else "green"
        out.print(f"dead letters of {function}: [{style}]{count}[/]")
    if any(p.state == "crashed" for p in statuses):
        raise typer.Exit(1)


@app.command("invoke")
def invoke(
    function: Annotated[str, typer.Argument(help="Logical id of the function in the template.")],
    event: Annotated[
        Path, typer.Option("--event", "-e", help="Event JSON file, as for `sam local invoke -e`.")
    ],
    profile: Annotated[
        str, typer.Option(help="local (the local stack) or aws (the deployed stack).")
    ] = "local",
    template: Annotated[Path | None, typer.Option(help="SAM template; the project's by default.")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="Local AWS endpoint; the running stack's by default.")
    ] = None,
    stack_name: Annotated[
        str, typer.Option("--stack", help="Deployed stack (profile aws).")
    ] = "dataplatform-dev",
) -> None:
    """Run a function's handler in this process with an event file: `sam local invoke` without Docker."""
    from dptools.sam.functions import find_function, function_specs
    from dptools.sam.invoke import read_event
    from dptools.sam.template import load_template

    try:
        chosen = parse_profile(profile)
        template_path = (template or project_root() / "template.yaml").resolve()
        spec = find_function(function_specs(load_template(template_path), template_path.parent), function)
        payload = read_event(event)
        result = (
            _invoke_local(spec, payload, template_path, endpoint_url)
            if chosen is Profile.LOCAL
            else _invoke_aws(spec, payload, stack_name)
        )
    except (TemplateError, EventFileError, EventMismatchError, SettingsError, StackError) as exc:
        _fail(str(exc), BAD_INPUT)
    # The handler's own logs come first; the result is the last line, as with `sam local invoke`.
    print(json.dumps(result, default=str))


def _invoke_local(spec: Any, payload: dict[str, Any], template_path: Path, endpoint_url: str | None) -> Any:
    """Explicit --endpoint-url, else AWS_ENDPOINT_URL, else the running local stack's endpoint."""
    from dataplatform.settings import AWS_ENDPOINT_URL, load_settings
    from dptools.local.deployment import LocalDeployment
    from dptools.local.runtime import invoke_locally

    stack = LocalStack(template=template_path)
    endpoint = endpoint_url or os.environ.get(AWS_ENDPOINT_URL) or stack.endpoint_url()
    settings = load_settings(profile="local", endpoint_url=endpoint, kafka_bootstrap=stack.kafka_bootstrap())
    # The stack's sample API, unless the environment points a source elsewhere.
    settings = settings.with_overrides(source_env={**stack.source_env(), **settings.source_env})
    return invoke_locally(spec, payload, LocalDeployment(template_path, endpoint), settings)


def _invoke_aws(spec: Any, payload: dict[str, Any], stack_name: str) -> Any:
    from dataplatform.settings import load_settings
    from dptools.sam.deployed import deployed_context
    from dptools.sam.invoke import invoke_function
    from dptools.sam.template import resolve

    settings = load_settings(profile="aws")
    context, physical = deployed_context(stack_name, settings)
    env = {k: str(v) for k, v in resolve(dict(spec.environment), context).items()}
    name = physical.get(spec.logical_id, spec.logical_id)
    return invoke_function(
        spec, payload, env, function_name=name, account_id=context.pseudo["AWS::AccountId"]
    )


@ingest_app.command("backfill")
def ingest_backfill(
    source: Annotated[str, typer.Argument(help="Source name (functions/api_ingest/sources/<name>.yaml).")],
    start: Annotated[str, typer.Option(help="Window start, ISO-8601 (inclusive).")],
    end: Annotated[str, typer.Option(help="Window end, ISO-8601 (exclusive).")],
    endpoint: Annotated[
        str | None, typer.Option(help="One endpoint; every incremental one by default.")
    ] = None,
    profile: Annotated[
        str, typer.Option(help="local (the local stack) or aws (the deployed function).")
    ] = "local",
    stack_name: Annotated[
        str, typer.Option("--stack", help="Deployed stack (profile aws).")
    ] = "dataplatform-dev",
) -> None:
    """Pull [start, end) again, in chunks of the endpoint's `backfill_chunk`, one invocation each.

    Chunks already committed are skipped by the function itself, so a failed backfill is resumed by
    running the same command again. The live watermark is never moved.
    """
    from pydantic import ValidationError

    from dataplatform.api_ingest.definition import DefinitionError, load_sources
    from dataplatform.api_ingest.request import Window, backfill_chunks, iso

    try:
        chosen = parse_profile(profile)
        window = Window.model_validate({"start": start, "end": end})
        definition = load_sources(project_root() / "functions/api_ingest/sources", None).get(source)
        if definition is None:
            raise DefinitionError(f"no source definition {source!r}")
        endpoints = (
            [definition.endpoint(endpoint)]
            if endpoint
            else [e for e in definition.endpoints if e.incremental]
        )
        chunks = [(e.name, chunk) for e in endpoints for chunk in backfill_chunks(e, window)]
        send = _function_sender(API_INGEST_FUNCTION, chosen, stack_name)
    except (ValidationError, DefinitionError, ValueError, SettingsError, StackError, TemplateError) as exc:
        _fail(str(exc).splitlines()[0] if isinstance(exc, ValidationError) else str(exc), BAD_INPUT)
    total = 0
    for number, (name, chunk) in enumerate(chunks, 1):
        event = {
            "source": source,
            "endpoint": name,
            "window": {"start": iso(chunk.start), "end": iso(chunk.end)},
        }
        label = f"chunk {number}/{len(chunks)}: {name} [{iso(chunk.start)}, {iso(chunk.end)})"
        try:
            result = send(event)
        except Exception as exc:
            _fail(f"{label} failed: {exc}\nrerun the same command: committed chunks are skipped")
        total += int(result.get("record_count", 0))
        out.print(f"{label} {result['status']}, {result.get('record_count', 0)} records", highlight=False)
    out.print(f"[green]backfill done[/]: {len(chunks)} chunk(s), {total} records")


API_INGEST_FUNCTION = "ApiIngestFunction"


def _function_sender(function: str, profile: Profile, stack_name: str) -> Any:
    """Runs one event through `function`: in this process on the local stack, or the deployed Lambda."""
    from dptools.sam.functions import find_function, function_specs
    from dptools.sam.template import load_template

    template_path = project_root() / "template.yaml"
    spec = find_function(function_specs(load_template(template_path), template_path.parent), function)
    if profile is Profile.LOCAL:
        stack = LocalStack(template=template_path)
        endpoint = stack.endpoint_url()
        return lambda event: _invoke_local(spec, event, template_path, endpoint)
    return lambda event: _invoke_deployed_lambda(function, event, stack_name)


def _invoke_deployed_lambda(function: str, event: dict[str, Any], stack_name: str) -> Any:
    from dataplatform.aws import client
    from dataplatform.settings import load_settings

    settings = load_settings(profile="aws")
    name = client("cloudformation", settings).describe_stack_resource(
        StackName=stack_name, LogicalResourceId=function
    )["StackResourceDetail"]["PhysicalResourceId"]
    response = client("lambda", settings).invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise RuntimeError(payload.get("errorMessage", payload) if isinstance(payload, dict) else payload)
    return payload


@app.command("smoke")
def smoke() -> None:
    """Run the smoke flow against the running local stack."""
    _run_smoke(LocalStack())


def _run_smoke(stack: LocalStack) -> None:
    from dataplatform.spark.session import build_session
    from dptools.local.smoke import SmokeError, run_smoke

    settings = stack.settings()
    sessions: list[Any] = []

    def spark() -> Any:
        sessions.append(build_session("dp-smoke", settings, master="local[2]"))
        return sessions[-1]

    try:
        results = run_smoke(settings, spark, step=lambda name: _progress(f"smoke: {name}"))
    except SmokeError as exc:
        _fail(f"smoke flow failed: {exc}")
    finally:
        for session in sessions:
            session.stop()
    for result in results:
        out.print(f"  [green]ok[/] {result.name} ({result.seconds:.1f}s): {result.detail}", highlight=False)


@app.command("demo")
def demo() -> None:
    """Bring the local stack up, run every demo flow with progress, and say where to look."""
    stack = LocalStack()
    try:
        settings = stack.up(progress=_progress)
    except StackError as exc:
        _fail(str(exc))
    _run_smoke(stack)
    _demo_rds_exports(stack, settings)
    _demo_api_ingest(settings)
    _demo_streaming(stack, settings)
    out.rule("where to look")
    out.print(
        f"local AWS (moto):  {settings.endpoint_url}  (e.g. aws --endpoint-url {settings.endpoint_url} s3 ls)"
    )
    out.print(f"Kafka bootstrap:   {settings.kafka_bootstrap}")
    out.print(f"raw bucket:        s3://{settings.raw_bucket}")
    out.print(f"sample API:        {settings.source_env.get('DP_SOURCE_REVIEWS_URL')}  (GET /v1/reviews)")
    out.print(f"stack state, logs: {stack.paths.run}")
    out.print("next: `dp stack status`, `dp invoke FUNCTION -e events/...`, `dp stack down`")


sample_app = typer.Typer(help="Sample data on the local stack, shaped as the real sources deliver it.")
app.add_typer(sample_app, name="sample")


@sample_app.command("rds-export")
def sample_rds_export(
    sf: Annotated[float, typer.Option("--sf", help="TPC-H scale factor.")] = 0.01,
    day: Annotated[str, typer.Option("--date", help="Snapshot date, YYYY-MM-DD.")] = "2026-11-01",
) -> None:
    """Write a TPC-H database to the local raw bucket as an RDS snapshot export (export_info last)."""
    from datetime import date

    from dataplatform.aws import client
    from dptools.samples.rds_export import generate_tpch, write_rds_export

    stack = LocalStack()
    try:
        settings = stack.settings()
    except StackError as exc:
        _fail(str(exc))
    bucket, s3 = settings.require("raw_bucket"), client("s3", settings)
    _progress(f"generating TPC-H SF {sf:g} with tpchgen-cli")
    tpch = generate_tpch(sf, stack.paths.root / "samples" / "tpch")
    _progress(f"writing the RDS export of {day} to s3://{bucket}/")
    export = write_rds_export(
        lambda k, b: s3.put_object(Bucket=bucket, Key=k, Body=b), tpch, date.fromisoformat(day), bucket
    )
    out.print(
        f"[green]export {export.export_id}[/]: {export.files} files, rows {export.rows}; s3://{bucket}/{export.info_key}"
    )


@sample_app.command("events")
def sample_events(
    topic: Annotated[str, typer.Argument(help="The Kafka topic, created if missing.")],
    rate: Annotated[
        float, typer.Option("--rate", min=0, help="Events per second; 0 for as fast as possible.")
    ] = 0,
    count: Annotated[int, typer.Option("--count", min=0, help="How many events to produce.")] = 10_000,
    malformed_share: Annotated[
        float, typer.Option("--malformed-share", min=0, max=1, help="Share of malformed messages.")
    ] = 0.0,
    partitions: Annotated[int, typer.Option("--partitions", min=1, help="Partitions of a new topic.")] = 3,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for the same events again; random if not given.")
    ] = None,
) -> None:
    """Produce a JSON clickstream (page views, add-to-cart, purchases) to the local Kafka broker."""
    import secrets

    from confluent_kafka import KafkaException

    from dptools.local.stack import KAFKA
    from dptools.samples.clickstream import ProduceError, produce_events

    stack = LocalStack()
    bootstrap = stack.kafka_bootstrap()
    if bootstrap is None or not stack.parts[KAFKA].is_running():
        _fail("the local stack's Kafka broker is not running: run `dp stack up`")
        return
    seed = secrets.randbits(32) if seed is None else seed
    _progress(f"producing {count} events to {topic} at {bootstrap} ({f'{rate:g}/s' if rate else 'unpaced'})")
    try:
        report = produce_events(bootstrap, topic, count, rate or None, malformed_share, seed, partitions)
    except (ProduceError, KafkaException) as exc:
        _fail(f"producing to {topic} failed: {exc}")
        return
    kinds = ", ".join(f"{kind} {n}" for kind, n in report.malformed_by_kind.items() if n) or "none"
    out.print(
        f"[green]{report.produced} events[/] to {report.topic} in {report.seconds:.2f}s "
        f"({report.events_per_second:,.0f}/s): {report.valid} valid, {report.malformed} malformed ({kinds}); "
        f"occurred {report.first_event_at} to {report.last_event_at}; seed {report.seed}",
        highlight=False,
    )


@app.command("deploy-artifacts")
def deploy_artifacts(
    stack_name: Annotated[
        str, typer.Option("--stack", help="The deployed stack whose artifacts bucket to fill.")
    ],
) -> None:
    """Upload the Spark jobs, the package zip and the Kafka jars to the stack's artifacts bucket."""
    from dataplatform.aws import client
    from dataplatform.settings import load_settings
    from dataplatform.spark.artifacts import upload_spark_artifacts
    from dptools.local.paths import LocalPaths

    settings = load_settings(profile="aws")
    outputs = client("cloudformation", settings).describe_stacks(StackName=stack_name)["Stacks"][0]["Outputs"]
    bucket = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ArtifactsBucketName")
    keys = upload_spark_artifacts(settings, bucket, project_root(), LocalPaths.default().jars / "spark")
    out.print(f"uploaded {len(keys)} artifacts to s3://{bucket}/")


def _demo_rds_exports(stack: LocalStack, settings: Any) -> None:
    """Two daily RDS exports land; the template's rule and the dispatcher catalog each one."""
    import time
    from datetime import date

    from dataplatform.aws import client
    from dataplatform.iceberg.catalog import glue_catalog
    from dataplatform.snapshot_catalog.catalog_export import marker_key
    from dptools.samples.rds_export import TABLES, generate_tpch, write_rds_export

    bucket, s3 = settings.require("raw_bucket"), client("s3", settings)
    tpch = generate_tpch(0.01, stack.paths.root / "samples" / "tpch")
    for day in (date(2026, 11, 1), date(2026, 11, 2)):
        _progress(f"RDS export of {day}: writing TPC-H SF 0.01 in RDS's layout to s3://{bucket}/exports/")
        export = write_rds_export(lambda k, b: s3.put_object(Bucket=bucket, Key=k, Body=b), tpch, day, bucket)
        deadline = time.monotonic() + 120
        while s3.list_objects_v2(Bucket=bucket, Prefix=marker_key(export.export_id)).get("KeyCount", 0) == 0:
            if time.monotonic() > deadline:
                _fail(
                    f"export {export.export_id} was not cataloged in 120s; see {stack.paths.run}/dispatcher.log"
                )
            time.sleep(0.5)
        catalog = glue_catalog(settings)
        counts = {t: catalog.load_table(f"raw.tpch__public__{t}").scan().to_arrow().num_rows for t in TABLES}
        out.print(
            f"  [green]ok[/] export {export.export_id} cataloged by snapshot_catalog: {counts}",
            highlight=False,
        )


def _demo_api_ingest(settings: Any) -> None:
    """The sample reviews API pulled as its schedule would, through the function: a scheduled run, then
    a backfill over the same weeks (whose records are already in, so none land twice)."""
    from dataplatform.iceberg.catalog import glue_catalog

    send = _function_sender(API_INGEST_FUNCTION, Profile.LOCAL, "")
    for name in ("scheduled.json", "backfill.json"):
        _progress(f"REST API: dp invoke {API_INGEST_FUNCTION} -e events/api_ingest/{name}")
        result = send(json.loads((project_root() / "events/api_ingest" / name).read_text()))
        out.print(
            f"  [green]ok[/] {result['table']}: {result['status']}, {result['record_count']} records landed, "
            f"{result['duplicates_skipped']} already there",
            highlight=False,
        )
    rows = glue_catalog(settings).load_table("raw.reviews__reviews").scan(selected_fields=("review_id",))
    out.print(f"  raw.reviews__reviews holds {rows.to_arrow().num_rows} review versions", highlight=False)


ProfileOption = Annotated[str, typer.Option(help="local (the local stack) or aws (EMR Serverless).")]
StackOption = Annotated[str, typer.Option("--stack", help="Deployed stack (profile aws).")]
NameOption = Annotated[str, typer.Option(help="The stream's name (its checkpoint, snapshots, metrics).")]


@streaming_app.command("start")
def streaming_start(
    profile: ProfileOption = "local",
    stack_name: StackOption = "dataplatform-dev",
    name: NameOption = "clickstream",
    topics: Annotated[
        str, typer.Option(help="Comma-separated topics (local; in AWS the stack's).")
    ] = "clickstream",
    trigger: Annotated[str, typer.Option(help="Trigger interval, or available-now (local).")] = "5 seconds",
) -> None:
    """Start the job if it is not running; it resumes from its checkpoint."""
    if parse_profile(profile) is Profile.LOCAL:
        stack, stream = _local_stream(name)
        if stream.process.is_running():
            out.print(f"stream {name} already running (pid {stream.process.pid()})")
            return
        pid = stream.start(stack.settings(), topics.split(","), trigger=trigger)
        out.print(f"[green]stream {name} started[/] (pid {pid}); checkpoint {stream.checkpoint}")
        return
    result = _aws_supervisor(stack_name).resume()
    out.print(f"stream {name}: {result.action} {result.run_id or ''}")


@streaming_app.command("stop")
def streaming_stop(
    profile: ProfileOption = "local",
    stack_name: StackOption = "dataplatform-dev",
    name: NameOption = "clickstream",
) -> None:
    """Stop the job between batches; in AWS the supervisor then leaves it stopped until `start`."""
    if parse_profile(profile) is Profile.LOCAL:
        _local_stream(name)[1].stop()
    else:
        _aws_supervisor(stack_name).pause()
    out.print(f"[green]stream {name} stopped[/]")


@streaming_app.command("status")
def streaming_status(
    profile: ProfileOption = "local",
    stack_name: StackOption = "dataplatform-dev",
    name: NameOption = "clickstream",
) -> None:
    """The process or job runs, and the last batch: rows, duration, consumer lag, dead letters."""
    if parse_profile(profile) is Profile.LOCAL:
        print(json.dumps(_local_stream(name)[1].status(), indent=2))
    else:
        print(json.dumps(_aws_supervisor(stack_name).streaming.status(), indent=2))


@streaming_app.command("redeploy")
def streaming_redeploy(
    profile: ProfileOption = "local",
    stack_name: StackOption = "dataplatform-dev",
    name: NameOption = "clickstream",
) -> None:
    """Stop the job and start the current code from the same checkpoint."""
    if parse_profile(profile) is Profile.LOCAL:
        stack, stream = _local_stream(name)
        topics = list(stream.status().get("topics") or [name])
        stream.stop()
        pid = stream.start(stack.settings(), topics)
        out.print(f"[green]stream {name} redeployed[/] (pid {pid}); checkpoint {stream.checkpoint}")
        return
    supervisor = _aws_supervisor(stack_name)
    supervisor.pause()
    result = supervisor.resume()
    out.print(f"stream {name} redeployed: {result.action} {result.run_id or ''}")


def _local_stream(name: str) -> tuple[LocalStack, Any]:
    from dptools.local.streaming_process import LocalStream

    stack = LocalStack()
    try:
        stack.endpoint_url()
    except StackError as exc:
        _fail(str(exc))
    return stack, LocalStream(stack.paths, name)


def _aws_supervisor(stack_name: str) -> Any:
    """The deployed stack's supervisor, built from its outputs as the Lambda builds it from its env."""
    from dataplatform.aws import client
    from dataplatform.settings import load_settings, settings_env
    from dataplatform.streaming.emr import supervisor_from_settings
    from dptools.sam.deployed import deployed_context
    from dptools.sam.functions import find_function, function_specs
    from dptools.sam.template import load_template, resolve

    template_path = project_root() / "template.yaml"
    spec = find_function(
        function_specs(load_template(template_path), template_path.parent), SUPERVISOR_FUNCTION
    )
    base = load_settings(profile="aws")
    context, _ = deployed_context(stack_name, base)
    env = {**settings_env(base), **{k: str(v) for k, v in resolve(dict(spec.environment), context).items()}}
    settings = load_settings(env, profile="aws")
    return supervisor_from_settings(
        settings, client("s3", settings), client("emr-serverless", settings), client("dynamodb", settings)
    )


SUPERVISOR_FUNCTION = "StreamingSupervisorFunction"


def _demo_streaming(stack: LocalStack, settings: Any) -> None:
    """A batch of clickstream events (5% malformed) through the streaming job, run available-now."""
    import time

    from dataplatform.iceberg.catalog import glue_catalog
    from dptools.local.streaming_process import LocalStream
    from dptools.samples.clickstream import produce_events

    topic = "clickstream"
    report = produce_events(stack.kafka_bootstrap() or "", topic, 5_000, None, 0.05, seed=int(time.time()))
    _progress(f"Kafka: produced {report.produced} events to {topic} ({report.malformed} malformed)")
    stream = LocalStream(stack.paths, topic)
    _progress("streaming: streaming/kafka_to_raw.py --trigger available-now (Spark, local[2])")
    stream.start(settings, [topic], trigger="available-now")
    deadline = time.monotonic() + 300
    while stream.process.is_running():
        if time.monotonic() > deadline:
            stream.stop()
            _fail(f"the streaming job did not finish in 300 s; see {stream.process.log_file}")
        time.sleep(1)
    status = stream.status()
    if status.get("state") != "stopped":
        _fail(f"the streaming job failed: {status.get('error')}; see {stream.process.log_file}")
    catalog = glue_catalog(settings)
    counts = {
        name: catalog.load_table(name).scan(selected_fields=("offset",)).to_arrow().num_rows
        for name in ("raw.events__clickstream", "raw.events__clickstream__typed", "raw.events__dead_letters")
    }
    out.print(f"  [green]ok[/] streaming job landed every event: {counts}", highlight=False)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
