from datetime import UTC, datetime

import pytest

from dptools.local.schedules import ScheduleExpressionError, next_fire

NOW = datetime(2026, 11, 24, 7, 30, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(5 minutes)", datetime(2026, 11, 24, 7, 35, 15, tzinfo=UTC)),
        ("rate(1 hour)", datetime(2026, 11, 24, 8, 30, 15, tzinfo=UTC)),
        ("rate(2 days)", datetime(2026, 11, 26, 7, 30, 15, tzinfo=UTC)),
        ("cron(0 6 * * ? *)", datetime(2026, 11, 25, 6, 0, tzinfo=UTC)),
        ("cron(*/15 * * * ? *)", datetime(2026, 11, 24, 7, 45, tzinfo=UTC)),
        ("at(2026-12-01T00:00:00)", datetime(2026, 12, 1, tzinfo=UTC)),
        ("at(2026-01-01T00:00:00)", None),
    ],
)
def test_next_fire(expression: str, expected: datetime | None) -> None:
    assert next_fire(expression, NOW) == expected


@pytest.mark.parametrize("expression", ["every day", "cron(0 6 * * ?)", "rate(5 weeks)"])
def test_bad_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        next_fire(expression, NOW)
