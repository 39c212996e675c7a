"""`dp ingest backfill`: re-pull a window of a REST source through ApiIngestFunction."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from dataplatform.api_ingest.definition import DefinitionError, load_sources
from dataplatform.api_ingest.request import Window, backfill_chunks, iso
from dataplatform.settings import SettingsError, parse_profile
from dptools.cli.console import BAD_INPUT, DEFAULT_STACK, ProfileOption, StackOption, fail, out
from dptools.functions import function_sender
from dptools.local.paths import project_root
from dptools.local.processes import StackError
from dptools.sam.template import TemplateError

API_INGEST_FUNCTION = "ApiIngestFunction"

app = typer.Typer(help="REST API ingestion (functions/api_ingest): backfills.")


@app.command("backfill")
def backfill(
    source: Annotated[str, typer.Argument(help="Source name (functions/api_ingest/sources/<name>.yaml).")],
    start: Annotated[str, typer.Option(help="Window start, ISO-8601 (inclusive).")],
    end: Annotated[str, typer.Option(help="Window end, ISO-8601 (exclusive).")],
    endpoint: Annotated[
        str | None, typer.Option(help="One endpoint; every incremental one by default.")
    ] = None,
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
) -> None:
    """Pull [start, end) again, in chunks of the endpoint's `backfill_chunk`, one invocation each.

    Chunks already committed are skipped by the function itself, so a failed backfill is resumed by
    running the same command again. The live watermark is never moved.
    """
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
        send = function_sender(API_INGEST_FUNCTION, chosen, stack_name)
    except (ValidationError, DefinitionError, ValueError, SettingsError, StackError, TemplateError) as exc:
        fail(str(exc).splitlines()[0] if isinstance(exc, ValidationError) else str(exc), BAD_INPUT)
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
            fail(f"{label} failed: {exc}\nrerun the same command: committed chunks are skipped")
        total += int(result.get("record_count", 0))
        out.print(f"{label} {result['status']}, {result.get('record_count', 0)} records", highlight=False)
    out.print(f"[green]backfill done[/]: {len(chunks)} chunk(s), {total} records")
