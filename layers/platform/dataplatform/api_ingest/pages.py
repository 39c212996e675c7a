"""Walk an endpoint's pages, each kind of pagination, fetching ahead of the caller.

Pages come out in order, parsed to Arrow. When the first page tells how many there are (offset with a
total, page numbers with a page count), the rest are fetched concurrently, at most `page_concurrency`
at a time; otherwise the next page is fetched while the caller writes the current one. Either way only
a few pages are in memory at once.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests

from dataplatform.api_ingest.definition import (
    CursorPagination,
    Endpoint,
    LinkHeaderPagination,
    NextLinkPagination,
    OffsetPagination,
    PageNumberPagination,
    SinglePage,
)
from dataplatform.api_ingest.records import ParsedPage, lookup, parse_page


class TooManyPages(RuntimeError):
    """The endpoint kept paginating past the definition's `max_pages` guard."""


@dataclass(frozen=True)
class PageRequest:
    number: int  # 0-based position of the page in the run
    url: str
    params: dict[str, Any] | None


@dataclass
class Page:
    request: PageRequest
    parsed: ParsedPage


Fetch = Callable[[str, dict[str, Any] | None], requests.Response]
KnownType = Callable[[], Any]


def _next_request(endpoint: Endpoint, page: Page, response: requests.Response) -> PageRequest | None:
    """The request after `page`, for the paginations that learn it from the page itself."""
    kind, req, body = endpoint.pagination, page.request, page.parsed.envelope
    rows = len(page.parsed.records)
    nxt = req.number + 1
    if isinstance(kind, SinglePage):
        return None
    if isinstance(kind, CursorPagination):
        cursor = lookup(body, kind.cursor_path)
        return (
            None
            if cursor in (None, "")
            else PageRequest(nxt, req.url, {**(req.params or {}), kind.cursor_param: cursor})
        )
    if isinstance(kind, NextLinkPagination):
        link = lookup(body, kind.next_path)
        return None if not link else PageRequest(nxt, urljoin(req.url, str(link)), None)
    if isinstance(kind, LinkHeaderPagination):
        link = response.links.get("next", {}).get("url")
        return None if not link else PageRequest(nxt, urljoin(req.url, link), None)
    if isinstance(kind, OffsetPagination):
        if rows < kind.limit:
            return None
        offset = int((req.params or {})[kind.offset_param]) + kind.limit
        return PageRequest(nxt, req.url, {**(req.params or {}), kind.offset_param: offset})
    assert isinstance(kind, PageNumberPagination)
    if rows == 0:
        return None
    number = int((req.params or {})[kind.page_param]) + 1
    return PageRequest(nxt, req.url, {**(req.params or {}), kind.page_param: number})


def _fan_out(endpoint: Endpoint, first: Page) -> list[PageRequest] | None:
    """Every request after the first, when the first page says how many pages there are."""
    kind, req, body = endpoint.pagination, first.request, first.parsed.envelope
    if isinstance(kind, OffsetPagination) and kind.total_path:
        total = lookup(body, kind.total_path)
        if not isinstance(total, int):
            return None
        pages = math.ceil(total / kind.limit)
        return [
            PageRequest(n, req.url, {**(req.params or {}), kind.offset_param: n * kind.limit})
            for n in range(1, pages)
        ]
    if isinstance(kind, PageNumberPagination) and kind.total_pages_path:
        total_pages = lookup(body, kind.total_pages_path)
        if not isinstance(total_pages, int):
            return None
        return [
            PageRequest(n - kind.start, req.url, {**(req.params or {}), kind.page_param: n})
            for n in range(kind.start + 1, kind.start + total_pages)
        ]
    return None


def first_request(endpoint: Endpoint, base_url: str, params: dict[str, Any]) -> PageRequest:
    kind = endpoint.pagination
    params = dict(params)
    if isinstance(kind, OffsetPagination):
        params.update({kind.offset_param: 0, kind.limit_param: kind.limit})
    elif isinstance(kind, PageNumberPagination):
        params[kind.page_param] = kind.start
        if kind.size_param and kind.size:
            params[kind.size_param] = kind.size
    url = base_url.rstrip("/") + "/" + endpoint.path.lstrip("/")
    return PageRequest(0, url, params or None)


def iter_pages(fetch: Fetch, endpoint: Endpoint, first: PageRequest, known_type: KnownType) -> Iterator[Page]:
    """Every page of the endpoint, in order, each fetched and parsed on a worker thread."""

    def load(request: PageRequest) -> tuple[Page, requests.Response]:
        if request.number >= endpoint.max_pages:
            raise TooManyPages(
                f"{endpoint.name}: more than max_pages={endpoint.max_pages} pages; raise it in the "
                "definition if the source really is that large"
            )
        response = fetch(request.url, request.params)
        return Page(request, parse_page(response.content, endpoint.record_path, known_type())), response

    with ThreadPoolExecutor(endpoint.page_concurrency, thread_name_prefix=f"fetch-{endpoint.name}") as pool:
        page, response = load(first)
        rest = _fan_out(endpoint, page)
        if rest is not None:
            yield page
            yield from _concurrently(pool, load, rest, endpoint.page_concurrency)
            return
        while True:
            following = _next_request(endpoint, page, response)
            ahead = pool.submit(load, following) if following else None
            yield page
            if ahead is None:
                return
            page, response = ahead.result()


def _concurrently(
    pool: ThreadPoolExecutor,
    load: Callable[[PageRequest], tuple[Page, requests.Response]],
    requests_: list[PageRequest],
    width: int,
) -> Iterator[Page]:
    """Pages in order, with at most `width` in flight (memory stays a few pages whatever the total)."""
    pending: deque[Future[tuple[Page, requests.Response]]] = deque()
    todo = iter(requests_)
    try:
        for request in todo:
            pending.append(pool.submit(load, request))
            if len(pending) >= width:
                yield pending.popleft().result()[0]
        while pending:
            yield pending.popleft().result()[0]
    finally:
        for future in pending:
            future.cancel()
