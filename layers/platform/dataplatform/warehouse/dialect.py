"""The warehouse's SQL is written once, for Redshift; this turns it into PostgreSQL for the local
server with sqlglot, dropping what only Redshift's storage knows (DISTSTYLE, DISTKEY, SORTKEY, ENCODE).
It also splits files into statements and quotes literals, for both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

Dialect = Literal["redshift", "postgres"]
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")


def statements(sql: str) -> list[str]:
    """The statements of a script: comment lines dropped, each statement ending with `;` at a line's end."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in _STATEMENT_END.split(body) if s.strip()]


def _redshift_only(expression: object) -> Iterator[object]:
    from sqlglot import exp

    assert isinstance(expression, exp.Expression)
    redshift_storage = (exp.DistKeyProperty, exp.DistStyleProperty, exp.SortKeyProperty)
    for node in expression.find_all(*redshift_storage, exp.EncodeColumnConstraint):
        yield node.parent if isinstance(node, exp.EncodeColumnConstraint) else node


def to_dialect(sql: str, dialect: Dialect) -> str:
    """One Redshift statement as `dialect` runs it."""
    if dialect == "redshift":
        return sql
    import logging

    import sqlglot
    from sqlglot import exp

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its notes on statements kept as commands
    expression = sqlglot.parse_one(sql, read="redshift")
    if isinstance(expression, exp.Command):  # statements sqlglot does not model (GRANT ... TO GROUP)
        return sql
    for node in list(_redshift_only(expression)):
        assert isinstance(node, exp.Expression)
        node.pop()
    properties = expression.args.get("properties")
    if isinstance(properties, exp.Properties) and not properties.expressions:
        properties.pop()
    return expression.sql(dialect="postgres")


def literal(value: str | int | None) -> str:
    """A SQL literal for values the loader makes itself (ids, names, numbers)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"
