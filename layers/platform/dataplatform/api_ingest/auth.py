"""requests auth for each definition's auth kind, with credentials read from Secrets Manager by name."""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from dataplatform.api_ingest.definition import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    NoAuth,
    OAuth2ClientCredentials,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# Renew a token this long before the server says it expires (a tenth of short lifetimes).
TOKEN_EXPIRY_SKEW_S = 30.0


class CredentialsError(RuntimeError):
    """A source's secret is missing, unreadable, or lacks a key its auth kind needs."""


class Refreshable(AuthBase, ABC):
    """Auth whose credential can go stale mid-run; the client refreshes it once on a 401."""

    @abstractmethod
    def refresh(self, stale: str | None) -> None:
        """Get a new credential, unless another thread already replaced `stale`."""


class ApiKeyHeader(AuthBase):
    def __init__(self, name: str, key: str) -> None:
        self.name, self.key = name, key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.name] = self.key
        return request


class ApiKeyQuery(AuthBase):
    def __init__(self, name: str, key: str) -> None:
        self.name, self.key = name, key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.prepare_url(request.url, {self.name: self.key})
        return request


class Bearer(AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class ClientCredentials(Refreshable):
    """OAuth2 client credentials: one token shared by the run's threads, renewed before it expires."""

    def __init__(
        self, session: requests.Session, token_url: str, client_id: str, secret: str, scopes: list[str]
    ) -> None:
        self._session, self._token_url = session, token_url
        self._client = HTTPBasicAuth(client_id, secret)
        self._scopes = scopes
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0

    def _fetch(self) -> None:
        form = {"grant_type": "client_credentials"}
        if self._scopes:
            form["scope"] = " ".join(self._scopes)
        response = self._session.post(self._token_url, data=form, auth=self._client, timeout=(5, 30))
        if response.status_code != 200:
            raise CredentialsError(
                f"token endpoint {self._token_url} refused the client: HTTP {response.status_code} "
                f"{response.text[:200]}"
            )
        body = response.json()
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 3600))
        self._expires_at = time.monotonic() + lifetime - min(TOKEN_EXPIRY_SKEW_S, lifetime / 10)
        self.tokens_fetched += 1

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def refresh(self, stale: str | None) -> None:
        with self._lock:
            if self._token == stale:  # another thread may have renewed it already
                self._fetch()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request


def read_secret(
    secrets_client: SecretsManagerClient, secret_id: str, keys: tuple[str, ...]
) -> dict[str, str]:
    try:
        raw = secrets_client.get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:  # botocore's ClientError and friends, named in the message
        raise CredentialsError(f"cannot read secret {secret_id!r}: {exc}") from exc
    try:
        values = json.loads(raw)
    except ValueError:
        raise CredentialsError(f"secret {secret_id!r} is not a JSON object") from None
    missing = [k for k in keys if not isinstance(values, dict) or not values.get(k)]
    if missing:
        raise CredentialsError(f"secret {secret_id!r} lacks {missing}")
    return {k: str(values[k]) for k in keys}


def build_auth(
    auth: Auth, secrets_client: SecretsManagerClient, secret_prefix: str, session: requests.Session
) -> AuthBase | None:
    """The requests auth for a definition; secrets are `<prefix><name>` in Secrets Manager."""
    if isinstance(auth, NoAuth):
        return None
    secret_id = f"{secret_prefix}{auth.secret}"
    if isinstance(auth, ApiKeyAuth):
        key = read_secret(secrets_client, secret_id, ("api_key",))["api_key"]
        return ApiKeyHeader(auth.name, key) if auth.location == "header" else ApiKeyQuery(auth.name, key)
    if isinstance(auth, BearerAuth):
        return Bearer(read_secret(secrets_client, secret_id, ("token",))["token"])
    if isinstance(auth, BasicAuth):
        values = read_secret(secrets_client, secret_id, ("username", "password"))
        return HTTPBasicAuth(values["username"], values["password"])
    assert isinstance(auth, OAuth2ClientCredentials)
    values = read_secret(secrets_client, secret_id, ("client_id", "client_secret"))
    return ClientCredentials(
        session, auth.token_url, values["client_id"], values["client_secret"], auth.scopes
    )
