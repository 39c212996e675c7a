"""The /v1 resources: the reviews in an `updated_since` / `updated_before` window, paged five ways, and
the parts. Since entry j is at `EPOCH + j minutes`, a window is an index range found by arithmetic."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson

from dptools.samples.reviews_api.dataset import entry_at, part
from dptools.samples.reviews_api.messages import BadRequest, Reply, Request, int_param, json_reply, param
from dptools.samples.reviews_api.state import State

DEFAULT_LIMIT, MAX_LIMIT = 100, 5000
PARTS_LISTED = 500
PARTS_BODY = orjson.dumps({"parts": [part(k) for k in range(1, PARTS_LISTED + 1)]})


def _limit(query: Mapping[str, list[str]], name: str) -> int:
    return min(MAX_LIMIT, int_param(query, name, DEFAULT_LIMIT, 1))


def _moment(query: Mapping[str, list[str]], name: str) -> datetime | None:
    raw = param(query, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(
            re.sub(r"(T[\d:.]+) (\d\d:?\d\d)$", r"\1+\2", raw)
        )  # an unescaped "+" is " "
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _window(state: State, request: Request) -> tuple[int, int]:
    """The entries with updated_since <= updated_at < updated_before, as an index range."""
    entries = state.log.entries
    since, before = _moment(request.query, "updated_since"), _moment(request.query, "updated_before")
    lo = min(entries, entry_at(since)) if since else 0
    hi = min(entries, entry_at(before)) if before else entries
    return lo, max(lo, hi)


def _records(state: State, start: int, end: int) -> list[dict[str, Any]]:
    return state.log.records(start, end, state.faults.drift_from_entry)


def encode_position(entry: int) -> str:
    return base64.urlsafe_b64encode(f"entry:{entry}".encode()).decode().rstrip("=")


def decode_position(token: str, name: str) -> int:
    try:
        kind, _, entry = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
        if kind == "entry" and entry.isdigit():
            return int(entry)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadRequest(f"{name} is not one this API issued")


def _next_url(request: Request, name: str, end: int | None) -> str | None:
    """This request's URL, all its parameters kept, with `name` set to the position `end`; None at the end."""
    if end is None:
        return None
    url = urlsplit(request.target)
    pairs = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != name]
    return f"http://{request.host}{url.path}?{urlencode([*pairs, (name, encode_position(end))])}"


def _positioned_page(state: State, request: Request, name: str) -> tuple[list[dict[str, Any]], int | None]:
    """A page from the position token in parameter `name`, and the next page's position if any."""
    lo, hi = _window(state, request)
    token = param(request.query, name)
    start = max(lo, decode_position(token, name) if token else 0)
    end = max(start, min(hi, start + _limit(request.query, "limit")))
    return _records(state, start, end), end if end < hi else None


def by_cursor(state: State, request: Request) -> Reply:
    records, end = _positioned_page(state, request, "cursor")
    meta = {"next_cursor": None if end is None else encode_position(end)}
    return json_reply(200, {"data": records, "meta": meta}, records=len(records))


def by_link(state: State, request: Request) -> Reply:
    records, end = _positioned_page(state, request, "page_token")
    links = {"next": _next_url(request, "page_token", end)}
    return json_reply(200, {"results": records, "links": links}, records=len(records))


def by_header(state: State, request: Request) -> Reply:
    records, end = _positioned_page(state, request, "page_token")
    next_url = _next_url(request, "page_token", end)
    return json_reply(200, records, {"Link": f'<{next_url}>; rel="next"'} if next_url else {}, len(records))


def by_offset(state: State, request: Request) -> Reply:
    lo, hi = _window(state, request)
    start = lo + int_param(request.query, "offset", 0, 0)
    records = _records(state, start, min(hi, start + _limit(request.query, "limit")))
    return json_reply(200, {"items": records, "total": hi - lo}, records=len(records))


def by_page(state: State, request: Request) -> Reply:
    page, per_page = int_param(request.query, "page", 1, 1), _limit(request.query, "per_page")
    lo, hi = _window(state, request)
    start = lo + (page - 1) * per_page
    records = _records(state, start, min(hi, start + per_page))
    payload = {
        "data": records,
        "page": page,
        "per_page": per_page,
        "total_pages": -(-(hi - lo) // per_page),
        "total": hi - lo,
    }
    return json_reply(200, payload, records=len(records))


def parts(state: State, request: Request) -> Reply:
    return Reply(200, PARTS_BODY, records=PARTS_LISTED)
