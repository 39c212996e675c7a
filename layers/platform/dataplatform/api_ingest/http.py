"""One pooled HTTP session per run: timeouts, retries with backoff and jitter, and a client-side rate limit.

urllib3's Retry retries connection errors, read timeouts, 429 and 5xx with exponential backoff plus
jitter, honouring `Retry-After`. pyrate-limiter keeps the run under the source's request rate across
all fetching threads. A 401 on a refreshable credential (an expired OAuth2 token) renews it once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from pyrate_limiter import Duration, Limiter, Rate
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from dataplatform.api_ingest.auth import Refreshable, build_auth
from dataplatform.api_ingest.definition import SourceDefinition

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

RETRY_STATUSES = (429, 500, 502, 503, 504)
BACKOFF_FACTOR_S = 0.25
BACKOFF_MAX_S = 30.0
BACKOFF_JITTER_S = 0.25
RETRY_AFTER_MAX_S = 120


class SourceError(RuntimeError):
    """The source kept failing, or answered with an error no retry can fix."""


class HttpClient:
    def __init__(
        self, source: SourceDefinition, secrets_client: SecretsManagerClient, secret_prefix: str, pool: int
    ) -> None:
        self.source = source
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", **source.headers})
        retry = Retry(
            total=source.max_retries,
            connect=source.max_retries,
            read=source.max_retries,
            status=source.max_retries,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "POST"}),
            backoff_factor=BACKOFF_FACTOR_S,
            backoff_max=BACKOFF_MAX_S,
            backoff_jitter=BACKOFF_JITTER_S,
            respect_retry_after_header=True,
            retry_after_max=RETRY_AFTER_MAX_S,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool, max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.auth = build_auth(source.auth, secrets_client, secret_prefix, self.session)
        self.limiter = (
            Limiter(Rate(source.rate_limit.requests_per_second, Duration.SECOND))
            if source.rate_limit
            else None
        )
        self.timeout = (source.connect_timeout_s, source.read_timeout_s)

    def get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        """A successful response, or SourceError naming the URL and what went wrong."""
        response = self._send(url, params)
        if response.status_code == 401 and isinstance(self.auth, Refreshable):
            stale = response.request.headers.get("Authorization", "").removeprefix("Bearer ")
            self.auth.refresh(stale or None)
            response = self._send(url, params)
        if response.status_code >= 400:
            raise SourceError(
                f"GET {response.url} answered HTTP {response.status_code} "
                f"(after up to {self.source.max_retries} retries): {response.text[:300]}"
            )
        return response

    def _send(self, url: str, params: dict[str, Any] | None) -> requests.Response:
        if self.limiter is not None:
            self.limiter.try_acquire(self.source.name, blocking=True)
        try:
            return self.session.get(url, params=params, auth=self.auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SourceError(f"GET {url} failed after {self.source.max_retries} retries: {exc}") from exc

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
