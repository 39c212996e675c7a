"""`dp invoke`: `sam local invoke` without Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dataplatform.settings import Profile, SettingsError, parse_profile
from dptools.cli.console import BAD_INPUT, DEFAULT_STACK, ProfileOption, StackOption, fail
from dptools.functions import invoke_local, invoke_with_deployed_env
from dptools.local.paths import project_root
from dptools.local.processes import StackError
from dptools.sam.functions import template_function
from dptools.sam.invoke import EventFileError, EventMismatchError, read_event
from dptools.sam.template import TemplateError


def invoke(
    function: Annotated[
        str,
        typer.Argument(help="The function's logical id in the template, or its code folder (api_ingest)."),
    ],
    event: Annotated[
        Path, typer.Option("--event", "-e", help="Event JSON file, as for `sam local invoke -e`.")
    ],
    profile: ProfileOption = "local",
    template: Annotated[Path | None, typer.Option(help="SAM template; the project's by default.")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="Local AWS endpoint; the running stack's by default.")
    ] = None,
    stack_name: StackOption = DEFAULT_STACK,
) -> None:
    """Run a function's handler in this process with an event file: `sam local invoke` without Docker."""
    try:
        chosen = parse_profile(profile)
        template_path = (template or project_root() / "template.yaml").resolve()
        spec = template_function(template_path, function)
        payload = read_event(event)
        result = (
            invoke_local(spec, payload, template_path, endpoint_url)
            if chosen is Profile.LOCAL
            else invoke_with_deployed_env(spec, payload, stack_name)
        )
    except (TemplateError, EventFileError, EventMismatchError, SettingsError, StackError) as exc:
        fail(str(exc), BAD_INPUT)
    # The handler's own logs come first; the result is the last line, as with `sam local invoke`.
    print(json.dumps(result, default=str))
