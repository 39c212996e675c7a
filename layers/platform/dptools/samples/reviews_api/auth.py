"""The credentials /v1 takes: an API key (`X-API-Key` or `?api_key=`), the static bearer token, HTTP Basic,
or an access token from /oauth/token (OAuth2 client credentials) until it expires."""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import parse_qs

from dptools.samples.reviews_api.messages import Reply, Request, error_reply, json_reply, param
from dptools.samples.reviews_api.state import State

INVALID_TOKEN = 'Bearer error="invalid_token", error_description="The access token expired or is unknown"'


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _authorization(request: Request) -> tuple[str, str]:
    """The Authorization header's scheme, lower-cased, and its credentials."""
    scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
    return scheme.lower(), credentials.strip()


def _basic(credentials: str) -> tuple[str, str] | None:
    try:
        user, sep, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def unauthorized(state: State, request: Request) -> Reply | None:
    """None when any accepted credential is present and right, else the 401 to send."""
    config = state.config
    if not config.auth:
        return None
    key = request.headers.get("X-API-Key") or param(request.query, "api_key")
    if key is not None and _same(key, config.api_key):
        return None
    scheme, credentials = _authorization(request)
    if scheme == "bearer":
        if _same(credentials, config.bearer_token) or state.tokens.valid(credentials):
            return None
        return error_reply(
            401,
            "invalid_token",
            "the access token expired or is unknown",
            {"WWW-Authenticate": INVALID_TOKEN},
        )
    if scheme == "basic" and _basic(credentials) == (config.basic_user, config.basic_password):
        return None
    return error_reply(
        401, "unauthorized", "credentials missing or wrong", {"WWW-Authenticate": 'Bearer realm="reviews"'}
    )


def token_endpoint(state: State, request: Request) -> Reply:
    """POST /oauth/token: the client credentials grant, the client's id and secret in the form or as Basic."""
    form = parse_qs(request.body.decode("utf-8", "replace"))
    grant = param(form, "grant_type")
    if grant != "client_credentials":
        code = "invalid_request" if grant is None else "unsupported_grant_type"
        return json_reply(400, {"error": code, "error_description": "grant_type must be client_credentials"})
    scheme, credentials = _authorization(request)
    client = (
        _basic(credentials) if scheme == "basic" else (param(form, "client_id"), param(form, "client_secret"))
    )
    config = state.config
    if client != (config.client_id, config.client_secret):
        payload = {"error": "invalid_client", "error_description": "unknown client or wrong secret"}
        return json_reply(401, payload, {"WWW-Authenticate": 'Basic realm="reviews"'})
    token = state.tokens.issue()
    state.stats.count_token()
    ttl = config.token_ttl_s
    expires_in = int(ttl) if float(ttl).is_integer() else ttl
    return json_reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": expires_in})
