"""The transform run's steps, as the state machine calls them: staging, the model (dimensions and
facts, in groups that may run in parallel), the aggregates, and publishing the run's branches (with the
run's figures, summed from its commits first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from dataplatform.transforms.build import AGGREGATES, MODEL
from dataplatform.transforms.entities import STAGING
from dataplatform.transforms.figures import run_figures
from dataplatform.transforms.lake import Lake
from dataplatform.transforms.report import StepReport
from dataplatform.transforms.stage import stage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Step = Literal["staging", "model", "aggregates", "publish"]
STEPS: tuple[Step, ...] = ("staging", "model", "aggregates", "publish")
# Every table a run writes, in the order publishing moves main: staging first, aggregates last.
RUN_TABLES = (
    *(e.table for e in STAGING.values()),
    *(f"analytics.{name}" for name in MODEL),
    *(f"analytics.{name}" for name in AGGREGATES),
)


class UnknownTableError(ValueError):
    """A table the step does not build."""


def _chosen(known: Sequence[str], tables: Sequence[str] | None) -> list[str]:
    unknown = sorted(set(tables or ()) - set(known))
    if unknown:
        raise UnknownTableError(f"unknown tables {unknown}; this step builds {list(known)}")
    return list(tables) if tables else list(known)


def run_step(
    spark: SparkSession,
    step: Step,
    run_id: str,
    tables: Sequence[str] | None = None,
    full_refresh: bool = False,
) -> StepReport:
    lake = Lake(spark, run_id)
    report = StepReport(step, run_id)
    if step == "staging":
        for name in _chosen(list(STAGING), tables):
            report.tables.append(stage(lake, STAGING[name], full_refresh))
    elif step in ("model", "aggregates"):
        builders = MODEL if step == "model" else AGGREGATES
        for name in _chosen(list(builders), tables):
            report.tables.append(builders[name](lake, full_refresh))
    else:
        published = [table for table in _chosen(RUN_TABLES, tables) if lake.exists(table)]
        # What the run's commits recorded, read before main moves (a table published already, by a
        # redrive of this step, is read from main, whose tip is then the run's last commit).
        report.figures = run_figures(run_id, {table: lake.run_commits(table) for table in published})
        for table in published:
            lake.publish(table)
    return report
