"""How a sample reviews API is set up: its dataset size, the credentials it accepts, its rate limit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReviewsApiConfig:
    total: int = 10_000
    api_key: str = "local-api-key"
    client_id: str = "local-client"
    client_secret: str = "local-secret"
    bearer_token: str = "local-bearer-token"
    basic_user: str = "local-user"
    basic_password: str = "local-password"
    token_ttl_s: float = 3600.0
    rate_limit_per_s: float | None = None
    auth: bool = True  # False serves /v1 without credentials
