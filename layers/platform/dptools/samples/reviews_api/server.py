"""The HTTP server: keep-alive connections on threads, the routes, and the order a /v1 request meets its
checks in (the rate limit, then auth, then the fault switches)."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from dptools.samples.reviews_api import auth, control, pages
from dptools.samples.reviews_api.config import ReviewsApiConfig
from dptools.samples.reviews_api.messages import BadRequest, Reply, Request, error_reply, json_reply
from dptools.samples.reviews_api.state import State

IDLE_CONNECTION_S = 60.0
SHUTDOWN_POLL_S = 0.05  # how soon stop() takes effect

Route = Callable[[State, Request], Reply]


def _limited(route: Route) -> Route:
    """The route, unless the request is over the rate limit (429 with Retry-After)."""

    def limited(state: State, request: Request) -> Reply:
        return state.faults.throttle() or route(state, request)

    return limited


def _guarded(serve: Route) -> Route:
    """A /v1 route: the rate limit, then auth, then the fault switches, then the page. A slow answer may
    also fail; a failed one is not also truncated."""

    def guarded(state: State, request: Request) -> Reply:
        refused = auth.unauthorized(state, request)
        if refused:
            return refused
        delay, failure, truncate = state.faults.take()
        if delay:
            time.sleep(delay)
        if failure:
            return error_reply(failure, "unavailable", "the service failed; try again")
        reply = serve(state, request)
        if truncate:
            return Reply(reply.status, reply.body[: max(1, len(reply.body) // 2)], reply.headers)
        return reply

    return _limited(guarded)


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/v1/reviews"): _guarded(pages.by_cursor),
    ("GET", "/v1/reviews/by-link"): _guarded(pages.by_link),
    ("GET", "/v1/reviews/by-header"): _guarded(pages.by_header),
    ("GET", "/v1/reviews/by-offset"): _guarded(pages.by_offset),
    ("GET", "/v1/reviews/by-page"): _guarded(pages.by_page),
    ("GET", "/v1/parts"): _guarded(pages.parts),
    ("GET", "/health"): lambda state, request: json_reply(200, {"status": "ok"}),
    ("POST", "/oauth/token"): _limited(auth.token_endpoint),
    ("GET", "/_control/dataset"): control.dataset,
    ("POST", "/_control/dataset"): control.change_dataset,
    ("GET", "/_control/faults"): control.faults,
    ("POST", "/_control/faults"): control.set_faults,
    ("GET", "/_control/stats"): control.stats,
    ("POST", "/_control/stats/reset"): control.reset_stats,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: State) -> None:
        super().__init__(address, _Handler)
        host, port = self.socket.getsockname()[:2]
        self.address: tuple[str, int] = (str(host), int(port))
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End the keep-alive connections too, so a stopped server answers nothing."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (as one does on a slow answer) is no error; anything else is logged."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            logging.getLogger(__name__).exception("error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ReviewsApi/1.0"
    disable_nagle_algorithm = True
    timeout = IDLE_CONNECTION_S

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: this is on the hot path."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            self.send_error(400, "bad Content-Length")  # the body cannot be skipped: the connection closes
            return
        body = self.rfile.read(int(length)) if int(length) else b""
        server = cast(_Server, self.server)
        url = urlsplit(self.path)
        route = ROUTES.get((method, url.path))
        try:
            host = self.headers.get("Host") or "{}:{}".format(*server.address)
            request = Request(self.path, parse_qs(url.query), self.headers, body, host)
            if route is not None:
                reply = route(server.state, request)
            elif allowed := [m for m, path in ROUTES if path == url.path]:
                reply = error_reply(
                    405, "method_not_allowed", f"{url.path} takes {allowed}", {"Allow": ", ".join(allowed)}
                )
            else:
                reply = error_reply(404, "not_found", f"no resource {url.path}")
        except BadRequest as bad:
            reply = error_reply(400, "bad_request", str(bad))
        if not url.path.startswith("/_control"):
            server.state.stats.count(reply)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


class ReviewsApi:
    """The API, bound at construction; `start()` (or `with`) serves it on a daemon thread."""

    def __init__(
        self, config: ReviewsApiConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or ReviewsApiConfig()
        self._server = _Server((host, port), State.of(self.config))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.address[1]

    @property
    def url(self) -> str:
        host, port = self._server.address
        return f"http://{host}:{port}"

    def start(self) -> ReviewsApi:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_S,), name="reviews-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> ReviewsApi:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
