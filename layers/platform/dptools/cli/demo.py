"""`dp smoke` and `dp demo`: the flows of dptools.demo with progress on the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dptools.cli.console import fail, info, ok, out, progress
from dptools.demo.bi_queries import BI_QUERIES
from dptools.demo.browser_check import ChromiumMissing, report_problems
from dptools.demo.flows import SCALE, DemoError, DemoResult, Reporter, run_demo, smoke
from dptools.demo.report import CHARTS, ReportData, write_report
from dptools.demo.smoke import SmokeError
from dptools.local.stack import LocalStack

SHOWN_ROWS = 6


def _stage(name: str) -> None:
    out.rule(name, align="left")


REPORTER = Reporter(progress=progress, ok=ok, info=info, stage=_stage)


def smoke_command() -> None:
    """Run the smoke flow against the running local stack."""
    try:
        smoke(LocalStack(), REPORTER)
    except SmokeError as exc:
        fail(f"smoke flow failed: {exc}")


def _summary(result: DemoResult) -> None:
    out.rule("rows per zone and table")
    for table, rows in sorted(result.table_rows.items()):
        out.print(f"  {table:<48} {rows:>10,}", highlight=False)
    out.rule("time per stage")
    for name, seconds in result.stages:
        out.print(f"  {name:<48} {seconds:>8.1f} s", highlight=False)
    out.print(f"  {'total':<48} {sum(s for _, s in result.stages):>8.1f} s", highlight=False)
    for query in BI_QUERIES:
        answer = result.bi[query.name]
        out.rule(f"BI query: {query.name}")
        out.print(query.title, style="bold", highlight=False)
        out.print(query.sql, style="dim", highlight=False)
        out.print("  " + " | ".join(answer.columns), style="bold", highlight=False)
        for row in answer.rows[:SHOWN_ROWS]:
            out.print("  " + " | ".join(str(v) for v in row), highlight=False)
        if len(answer.rows) > SHOWN_ROWS:
            out.print(f"  ... {len(answer.rows)} rows in all (the report charts every one)", highlight=False)


def _report(result: DemoResult, path: Path) -> None:
    write_report(ReportData(result.bi, result.stages, result.table_rows, result.bi_url), path)
    ok(f"report: {path} (self-contained, opens offline)")
    try:
        problems = report_problems(path)
    except ChromiumMissing as exc:
        info(f"rendered-charts check not run: {exc}")
        return
    if problems:
        fail(f"the report's charts did not render: {'; '.join(problems)}")
    ok(f"headless Chromium rendered every chart of the report with its data ({len(CHARTS)} charts)")


def demo_command(
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Show the handlers' logs here (else in the stack's log folder).")
    ] = False,
    scale: Annotated[float, typer.Option(help="TPC-H scale factor of the sample RDS database.")] = SCALE,
    passes: Annotated[
        int,
        typer.Option(
            min=1,
            max=2,
            help="2: every source twice, the second with changes, and an incremental run; 1: the first "
            "pass only, a quicker tour.",
        ),
    ] = 2,
) -> None:
    """Bring the local stack up, run every demo flow with progress, and say where to look."""
    stack = LocalStack()
    try:
        result = run_demo(stack, REPORTER, scale=scale, verbose=verbose, passes=passes)
    except SmokeError as exc:
        fail(f"smoke flow failed: {exc}")
    except DemoError as exc:
        fail(str(exc))
    _summary(result)
    out.rule("report")
    _report(result, stack.paths.root / "report.html")
    settings = result.settings
    endpoint = settings.endpoint_url
    out.rule("where to look")
    out.print(f"BI connection:     {result.bi_url}  (`dp warehouse url --bi`; read only)", highlight=False)
    out.print(f"report:            {stack.paths.root / 'report.html'}", highlight=False)
    out.print(f"local AWS (moto):  {endpoint}  (e.g. aws --endpoint-url {endpoint} s3 ls)")
    out.print(f"Kafka bootstrap:   {settings.kafka_bootstrap}")
    out.print(f"raw bucket:        s3://{settings.raw_bucket}")
    out.print(f"sample API:        {settings.source_env.get('DP_SOURCE_REVIEWS_URL')}  (GET /v1/reviews)")
    out.print(f"stack state, logs: {stack.paths.run}")
    out.print("next: `dp stack status`, `dp sql --tables`, `dp transform run`, `dp stack down`")
