"""`dp export start|backfill`: RDS snapshot exports by hand, through SnapshotExportFunction."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import typer

from dataplatform.settings import SettingsError, parse_profile
from dataplatform.snapshot_export.result import ALARMING
from dptools.cli.console import (
    BAD_INPUT,
    DEFAULT_STACK,
    ProfileOption,
    StackOption,
    days_from_to,
    fail,
    out,
)
from dptools.functions import Send, function_sender
from dptools.local.processes import StackError
from dptools.sam.template import TemplateError

SNAPSHOT_EXPORT_FUNCTION = "SnapshotExportFunction"
STYLES = {"started": "green", "queued": "yellow", "already-started": "cyan", "no-snapshot": "yellow"}

app = typer.Typer(help="RDS snapshot exports (functions/snapshot_export): start one, or backfill days.")


def _sender(profile: str, stack_name: str) -> Send:
    try:
        return function_sender(SNAPSHOT_EXPORT_FUNCTION, parse_profile(profile), stack_name)
    except (SettingsError, StackError, TemplateError) as exc:
        fail(str(exc), BAD_INPUT)


def _print(label: str, exports: list[dict[str, Any]]) -> None:
    if not exports:
        out.print(f"{label}: [yellow]nothing to export[/] (no database in ExportSources)", highlight=False)
    for export in exports:
        outcome = export["outcome"]
        style = "bold red" if outcome in ALARMING else STYLES.get(outcome, "white")
        detail = f" ({export['message']})" if export["message"] else ""
        out.print(
            f"{label}: {export['export_id'] or export['snapshot']} [{style}]{outcome}[/]{detail}",
            highlight=False,
        )


@app.command("start")
def start(
    snapshot: Annotated[
        str, typer.Option("--snapshot", help="DB or DB cluster snapshot identifier (or ARN).")
    ],
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
) -> None:
    """Export one snapshot; a second start of the same snapshot is a no-op."""
    result = _sender(profile, stack_name)({"snapshot": snapshot})
    _print(snapshot, result["exports"])
    if any(e["outcome"] in ("refused", "no-snapshot") for e in result["exports"]):
        raise typer.Exit(1)


@app.command("backfill")
def backfill(
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    last: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (inclusive).")],
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
) -> None:
    """Export the automated snapshot of each day of every database in ExportSources, day by day.

    Past RDS's limit of 5 running exports, the rest are queued and the function starts them as others
    end. Rerunning it starts nothing twice.
    """
    days = days_from_to(first, last)
    send = _sender(profile, stack_name)
    totals: Counter[str] = Counter()
    for number, day in enumerate(days, 1):
        try:
            result = send({"day": day.isoformat()})
        except Exception as exc:
            fail(
                f"day {number}/{len(days)} {day} failed: {exc}\nrerun the same command: nothing starts twice"
            )
        _print(f"day {number}/{len(days)} {day}", result["exports"])
        totals.update(e["outcome"] for e in result["exports"])
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(totals.items())) or "nothing"
    out.print(f"[green]backfill done[/]: {len(days)} day(s): {summary}", highlight=False)
    if totals["refused"]:
        raise typer.Exit(1)
