"""`dp export`: bad days are one clear line and exit 2, before anything is sent to the function."""

import pytest
from typer.testing import CliRunner

from dptools.cli.main import app


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-11-05", "2026-11-01", "--to 2026-11-01 is before --from 2026-11-05"),
        ("yesterday", "2026-11-01", "--from and --to take YYYY-MM-DD"),
    ],
)
def test_a_backfill_with_bad_days_fails_clearly(first: str, last: str, message: str) -> None:
    run = CliRunner().invoke(app, ["export", "backfill", "--from", first, "--to", last])
    assert run.exit_code == 2
    assert message in run.output
