"""`dp sql`'s output formats for the values engines return, and `dp stack up --with` refusing what it does
not know before starting anything."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from dataplatform.sql.result import QueryResult
from dptools.cli.main import app
from dptools.cli.sql import csv_text, json_text
from dptools.local.paths import DP_LOCAL_DIR

RESULT = QueryResult(
    ("key", "price", "day", "at", "raw", "note"),
    [
        (
            1,
            Decimal("10.50"),
            date(2027, 3, 1),
            datetime(2027, 3, 1, 12, 30),
            b"\x01\xff",
            'a, "quoted" note',
        ),
        (2, None, None, None, None, None),
    ],
)


def test_csv_quotes_what_needs_it_and_leaves_nulls_empty() -> None:
    assert csv_text(RESULT).splitlines() == [
        "key,price,day,at,raw,note",
        '1,10.50,2027-03-01,2027-03-01 12:30:00,01ff,"a, ""quoted"" note"',
        "2,,,,,",
    ]


def test_json_gives_one_object_per_row_with_values_as_their_text() -> None:
    assert json.loads(json_text(RESULT)) == [
        {
            "key": 1,
            "price": "10.50",
            "day": "2027-03-01",
            "at": "2027-03-01 12:30:00",
            "raw": "01ff",
            "note": 'a, "quoted" note',
        },
        {"key": 2, "price": None, "day": None, "at": None, "raw": None, "note": None},
    ]


def test_stack_up_with_an_unknown_part_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["stack", "up", "--with", "presto"], env={DP_LOCAL_DIR: str(tmp_path)})
    assert result.exit_code == 2
    assert result.output.strip() == "error: --with takes trino, not presto"
    assert not (tmp_path / "stack").exists(), "nothing started"
