"""A third-party REST API of product reviews (TPC-H parts reviewed by TPC-H customers), for ingestion to pull.

The data is an append-only change log of entries, one a minute from EPOCH: entry j has
`updated_at = EPOCH + j minutes`, so an `updated_since` / `updated_before` window (since <= updated_at <
before) is an index range found by arithmetic. The first `total` entries are the reviews themselves (entry
j is review j + 1); a touch appends an updated version of a review (new rating and helpful votes, same
`created_at`); growing the total after touches appends the new reviews after them, so the log stays
append-only. Every record is computed from its ids on demand: memory stays constant however large `total`.

The same window, five ways (`limit` / `per_page` default 100, capped at 5000):

    GET /v1/reviews            ?limit&cursor       {"data": [...], "meta": {"next_cursor": str | null}}
    GET /v1/reviews/by-link    ?limit&page_token   {"results": [...], "links": {"next": url | null}}
    GET /v1/reviews/by-header  ?limit&page_token   [...], and `Link: <url>; rel="next"` but on the last page
    GET /v1/reviews/by-offset  ?offset&limit       {"items": [...], "total": n}
    GET /v1/reviews/by-page    ?page&per_page      {"data": [...], "page", "per_page", "total_pages", "total"}
    GET /v1/parts                                  {"parts": [500 parts]}, one page
    GET /health                                    {"status": "ok"}, no auth
    POST /oauth/token          client credentials  {"access_token", "token_type": "Bearer", "expires_in"}

Every /v1 endpoint takes an API key (`X-API-Key` or `?api_key=`), the static bearer token, HTTP Basic, or
a token from `/oauth/token` (client id and secret in the form or as Basic) until it expires. A /v1 request
meets the rate limit (429 with Retry-After; /oauth/token is limited too), then auth (401), then the fault
switches, each counting down per request it acts on (a slow answer may also fail; a failed one is not also
truncated).

`/_control` (no auth: this is a test server for loopback, never to be exposed):
`POST /_control/dataset {"total": n, "touch": [review_id, ...]}`, `POST /_control/faults {"fail_5xx": n,
"slow": n, "delay_s": x, "malformed": n, "drift_from_entry": k, "rate_limit_per_s": r, "revoke_tokens": true,
"reset": true}`,
`GET /_control/stats`, `POST /_control/stats/reset`; GET on dataset and faults reads them.

In-process: `with ReviewsApi(ReviewsApiConfig(total=500)) as api: requests.get(f"{api.url}/health")`.
As a process: `python -m dptools.samples.reviews_api --port 0 --port-file PATH [--total N ...]`.
"""

from dptools.samples.reviews_api.config import ReviewsApiConfig
from dptools.samples.reviews_api.dataset import EPOCH
from dptools.samples.reviews_api.server import ReviewsApi

__all__ = ["EPOCH", "ReviewsApi", "ReviewsApiConfig"]
