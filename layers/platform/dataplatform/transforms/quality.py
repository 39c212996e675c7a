"""Quality gates: each analytics table is checked on the run's branch before anything is published.

The rules are declarative, one JSON file per table in `rules/` (JSON because EMR's Python has no YAML
parser), evaluated as Spark column expressions and joins so that every failure comes with the rows that
broke it: those go to the quarantine table with the rule's name, and the run fails with a message that
says which rule failed how often. Rule kinds:

- `not_null`: columns that must hold a value;
- `unique`: columns that together identify a row;
- `references`: a column whose values must exist in another table's key (optionally filtered);
- `row_count`: the table (or its rows matching `filter`) must have as many rows as another
  (reconciliation raw -> staging -> facts);
- `contract`: the columns and types of `contract.CONTRACT`;
- `freshness`: the newest commit of a source table is at most `max_age_hours` old.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from dataplatform.transforms.contract import violations

Lookup = Callable[[str], DataFrame]
FreshnessLookup = Callable[[str], float | None]  # a table's newest commit, as hours ago


class RuleError(ValueError):
    """A rules file that does not parse or names an unknown rule kind."""


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    spec: Any


@dataclass
class Failure:
    """A rule that failed: how, and the rows that broke it (None for table-level rules)."""

    rule: str
    message: str
    rows: DataFrame | None = None


@dataclass
class GateResult:
    table: str
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def message(self) -> str:
        return f"{self.table} failed its quality gate: " + "; ".join(
            f"{f.rule}: {f.message}" for f in self.failures
        )


class GateFailed(RuntimeError):
    """A table failed its gate: nothing of the run was published."""


KINDS = ("not_null", "unique", "references", "row_count", "contract", "freshness")
# The kinds judged row by row: a gate counts the rows each of them flags in one pass over its table.
ROW_KINDS = ("not_null", "unique", "references")


def load_rules(table: str) -> list[Rule]:
    """The rules of `analytics.<name>` from `rules/<name>.json`; no file, no rules."""
    resource = files("dataplatform.transforms") / "rules" / f"{table.split('.')[-1]}.json"
    if not resource.is_file():
        return []
    try:
        document = json.loads(resource.read_text())
        rules = [Rule(r["name"], kind, r[kind]) for r in document["rules"] for kind in KINDS if kind in r]
    except (ValueError, KeyError, TypeError) as exc:
        raise RuleError(f"rules of {table}: {exc}") from exc
    if len(rules) != len(document["rules"]):
        raise RuleError(f"rules of {table}: every rule needs a name and one kind of {KINDS}")
    return rules


def _flagged(rule: Rule, df: DataFrame, lookup: Lookup, flag: str) -> DataFrame:
    """`df` with a boolean column `flag`: whether the row breaks `rule`, a rule of ROW_KINDS."""
    if rule.kind == "not_null":
        return df.withColumn(flag, F.expr(" OR ".join(f"{c} IS NULL" for c in rule.spec)))
    if rule.kind == "unique":
        return df.withColumn(flag, F.count(F.lit(1)).over(Window.partitionBy(*rule.spec)) > 1)
    spec = rule.spec
    keys = lookup(spec["table"])
    if spec.get("where"):
        keys = keys.where(spec["where"])
    key, known = f"{flag}_key", f"{flag}_known"
    keys = keys.select(F.col(spec["key"]).alias(key)).distinct().withColumn(known, F.lit(True))
    joined = df.join(keys, F.col(spec["column"]) == F.col(key), "left")
    broken = F.col(spec["column"]).isNotNull() & F.col(known).isNull()
    return joined.withColumn(flag, broken).drop(key, known)


def _what(rule: Rule) -> str:
    """What the count of rows that break a rule of ROW_KINDS counts."""
    if rule.kind == "not_null":
        return f"rows with a null in {', '.join(rule.spec)}"
    if rule.kind == "unique":
        return "rows share a key"
    return f"rows whose {rule.spec['column']} is not in {rule.spec['table']}"


def evaluate(rule: Rule, df: DataFrame, table: str, lookup: Lookup, age: FreshnessLookup) -> Failure | None:
    """The rule's failure on `df`, or None when it holds."""
    if rule.kind in ROW_KINDS:  # counted as a gate counts it
        failures = check(table, df, lookup, age, [rule]).failures
        return failures[0] if failures else None
    if rule.kind == "row_count":
        other = lookup(rule.spec["equals"])
        if rule.spec.get("where"):
            other = other.where(rule.spec["where"])
        counted = df.where(rule.spec["filter"]) if rule.spec.get("filter") else df
        ours, theirs = counted.count(), other.count()
        if ours == theirs:
            return None
        return Failure(rule.name, f"{ours} rows, {rule.spec['equals']} has {theirs}")
    if rule.kind == "contract":
        problems = violations(df.select(*[c for c in df.columns if not c.startswith("_")]), rule.spec)
        return Failure(rule.name, problems[0]) if problems else None
    if rule.kind == "freshness":
        hours = age(rule.spec["source"])
        limit = float(rule.spec["max_age_hours"])
        if hours is None or hours > limit:
            seen = "no commit" if hours is None else f"newest commit {hours:.1f} h old"
            return Failure(rule.name, f"{rule.spec['source']}: {seen}, limit {limit:g} h")
        return None
    raise RuleError(f"unknown rule kind {rule.kind!r}")


def check(
    table: str, df: DataFrame, lookup: Lookup, age: FreshnessLookup, rules: list[Rule] | None = None
) -> GateResult:
    """Every rule of `table` (its rules file's, unless given) on `df`, which is read once for all of them
    (cached while they run); the rows that break each row-by-row rule are counted in one pass, and
    selected only when there are some."""
    result = GateResult(table)
    rules = load_rules(table) if rules is None else rules
    if not rules:
        return result
    df = df.cache()
    try:
        flags = {i: f"_rule_{i}" for i, rule in enumerate(rules) if rule.kind in ROW_KINDS}
        flagged = df
        for i, flag in flags.items():
            flagged = _flagged(rules[i], flagged, lookup, flag)
        counts = flagged.agg(*[F.sum(F.col(f).cast("long")).alias(f) for f in flags.values()]).first()
        for i, rule in enumerate(rules):
            if i not in flags:
                failure = evaluate(rule, df, table, lookup, age)
            elif count := (counts[flags[i]] if counts else 0):
                rows = flagged.where(F.col(flags[i])).select(*df.columns)
                failure = Failure(rule.name, f"{count} {_what(rule)}", rows)
            else:
                failure = None
            if failure:
                result.failures.append(failure)
    finally:
        df.unpersist()
    return result


def quarantine_rows(result: GateResult, run_id: str) -> DataFrame | None:
    """The failing rows of every rule, as (run_id, table, rule, row as JSON, detected_at)."""
    frames = [
        f.rows.select(
            F.lit(run_id).alias("run_id"),
            F.lit(result.table).alias("table"),
            F.lit(f.rule).alias("rule"),
            F.to_json(F.struct(*f.rows.columns)).alias("row"),
            F.current_timestamp().alias("detected_at"),
        )
        for f in result.failures
        if f.rows is not None
    ]
    if not frames:
        return None
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union
