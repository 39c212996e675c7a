"""What a route is given and what it answers: the request, the reply, and BadRequest for a 400, with the
readers of query parameters and /_control values that raise it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import orjson


class BadRequest(Exception):
    """The request cannot be served as sent: the server answers 400 with this message."""


@dataclass(frozen=True)
class Request:
    target: str  # the path with its query string, as sent
    query: Mapping[str, list[str]]
    headers: Message
    body: bytes
    host: str  # `host:port` the client reached


@dataclass
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    records: int = 0  # reviews or parts in the body, for /_control/stats


def json_reply(
    status: int, payload: Any, headers: Mapping[str, str] | None = None, records: int = 0
) -> Reply:
    return Reply(status, orjson.dumps(payload), headers or {}, records)


def error_reply(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    return json_reply(status, {"error": code, "message": message}, headers)


def param(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def int_param(query: Mapping[str, list[str]], name: str, default: int, minimum: int) -> int:
    raw = param(query, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < minimum:
        raise BadRequest(f"{name} must be >= {minimum}")
    return value


def json_object(body: bytes) -> dict[str, Any]:
    """A /_control body: a JSON object, empty when there is no body."""
    try:
        change = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(change, dict):
        raise BadRequest("the body must be a JSON object")
    return change


def count(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{name} must be an integer >= 0")
    return value


def seconds(value: Any, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{name} must be a number >= 0")
    return float(value)
