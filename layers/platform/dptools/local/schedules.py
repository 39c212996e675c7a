"""When EventBridge schedule expressions fire: `rate(...)`, `cron(...)` and `at(...)`, in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from croniter import croniter

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleExpressionError(ValueError):
    pass


def next_fire(expression: str, after: datetime) -> datetime | None:
    """The first time strictly after `after` at which `expression` fires; None if never again."""
    expression = expression.strip()
    if match := _RATE.match(expression):
        amount, unit = int(match.group(1)), match.group(2).rstrip("s")
        return after + timedelta(seconds=amount * _UNIT_SECONDS[unit])
    if match := _AT.match(expression):
        at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
        return at if at > after else None
    if match := _CRON.match(expression):
        fields = match.group(1).split()
        if len(fields) != 6:
            raise ScheduleExpressionError(
                f"{expression!r}: cron() takes 6 fields, min hour dom month dow year"
            )
        minute, hour, dom, month, dow, _year = fields
        standard = " ".join(f.replace("?", "*") for f in (minute, hour, dom, month, dow))
        fire: datetime = croniter(standard, after).get_next(datetime)
        return fire
    raise ScheduleExpressionError(f"unsupported schedule expression {expression!r}")
