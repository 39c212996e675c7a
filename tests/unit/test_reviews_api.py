"""The sample reviews API over real HTTP on loopback: each pagination kind walks the filtered window once,
each credential opens /v1, each fault switch bites and then lets go, and the data is the same every time.

`python tests/unit/test_reviews_api.py` prints the server's throughput (no test times anything).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
import pytest
import requests

from dptools.samples.reviews_api import ReviewsApi, ReviewsApiConfig

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
KEY = {"X-API-Key": "local-api-key"}
OAUTH_FORM = {
    "grant_type": "client_credentials",
    "client_id": "local-client",
    "client_secret": "local-secret",
}
NATIONS = {
    "ALGERIA", "ARGENTINA", "BRAZIL", "CANADA", "EGYPT", "ETHIOPIA", "FRANCE", "GERMANY", "INDIA",
    "INDONESIA", "IRAN", "IRAQ", "JAPAN", "JORDAN", "KENYA", "MOROCCO", "MOZAMBIQUE", "PERU", "CHINA",
    "ROMANIA", "SAUDI ARABIA", "VIETNAM", "RUSSIA", "UNITED KINGDOM", "UNITED STATES",
}  # fmt: skip
PAGE = 37  # divides no window below, so every walk ends on a short page
MAX_PAGES = 200


def at(minutes: float) -> str:
    """The instant `minutes` after EPOCH, as the API writes it; entry j is at `at(j)`."""
    return (EPOCH + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def api() -> Iterator[ReviewsApi]:
    with ReviewsApi(ReviewsApiConfig(total=1000)) as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as keyed:
        keyed.headers.update(KEY)
        yield keyed


def control(api: ReviewsApi, what: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = requests.post(f"{api.url}/_control/{what}", json=body, timeout=5)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def window(api: ReviewsApi, session: requests.Session, since: float, before: float) -> list[dict[str, Any]]:
    """Every record with at(since) <= updated_at < at(before), in one offset page."""
    reply = session.get(
        f"{api.url}/v1/reviews/by-offset",
        params={"updated_since": at(since), "updated_before": at(before), "limit": "5000"},
        timeout=5,
    )
    assert reply.status_code == 200, reply.text
    records: list[dict[str, Any]] = reply.json()["items"]
    return records


# One walker per pagination kind, each following the API's own pointers the way a client would.


def walk_cursor(s: requests.Session, url: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    records, params = [], {**filters, "limit": PAGE}
    for _ in range(MAX_PAGES):
        body = s.get(f"{url}/v1/reviews", params=params, timeout=5).json()
        assert len(body["data"]) <= PAGE
        records += body["data"]
        if body["meta"]["next_cursor"] is None:
            return records
        params = {**filters, "limit": PAGE, "cursor": body["meta"]["next_cursor"]}
    raise AssertionError("the cursor never ran out")


def walk_link(s: requests.Session, url: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    records, next_url = [], f"{url}/v1/reviews/by-link?{urlencode({**filters, 'limit': PAGE})}"
    for _ in range(MAX_PAGES):
        body = s.get(next_url, timeout=5).json()
        assert len(body["results"]) <= PAGE
        records += body["results"]
        if body["links"]["next"] is None:
            return records
        next_url = body["links"]["next"]
        assert next_url.startswith(f"{url}/v1/reviews/by-link?")
        kept = parse_qs(urlsplit(next_url).query)
        assert {k: kept[k] for k in (*filters, "limit")} == {
            **{k: [v] for k, v in filters.items()},
            "limit": [str(PAGE)],
        }
    raise AssertionError("the next links never ran out")


def walk_header(s: requests.Session, url: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    records, next_url = [], f"{url}/v1/reviews/by-header?{urlencode({**filters, 'limit': PAGE})}"
    for _ in range(MAX_PAGES):
        reply = s.get(next_url, timeout=5)
        page = reply.json()
        assert isinstance(page, list) and len(page) <= PAGE
        records += page
        if "next" not in reply.links:
            assert "Link" not in reply.headers
            return records
        next_url = reply.links["next"]["url"]
        assert next_url.startswith(f"{url}/v1/reviews/by-header?")
    raise AssertionError("the Link headers never ran out")


def walk_offset(s: requests.Session, url: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        params = {**filters, "offset": len(records), "limit": PAGE}
        body = s.get(f"{url}/v1/reviews/by-offset", params=params, timeout=5).json()
        records += body["items"]
        if len(records) >= body["total"]:
            assert len(records) == body["total"]
            return records
    raise AssertionError("the offsets never reached the total")


def walk_page(s: requests.Session, url: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES):
        body = s.get(
            f"{url}/v1/reviews/by-page", params={**filters, "page": page, "per_page": PAGE}, timeout=5
        ).json()
        assert (body["page"], body["per_page"]) == (page, PAGE)
        assert body["total_pages"] == -(-body["total"] // PAGE)
        records += body["data"]
        if page >= body["total_pages"]:
            assert len(records) == body["total"]
            return records
    raise AssertionError("the pages never ran out")


WALKERS: dict[str, Callable[[requests.Session, str, dict[str, Any]], list[dict[str, Any]]]] = {
    "json cursor": walk_cursor,
    "next link in the body": walk_link,
    "Link header": walk_header,
    "offset": walk_offset,
    "page number": walk_page,
}


@pytest.mark.parametrize("kind", WALKERS)
def test_each_pagination_kind_walks_the_filtered_window_exactly_once(
    api: ReviewsApi, session: requests.Session, kind: str
) -> None:
    # GIVEN entries one a minute from EPOCH, and a window from entry 123 (inclusive) to half past entry 877
    filters = {"updated_since": at(123), "updated_before": at(877.5)}

    # WHEN a client follows the pages to the end
    records = WALKERS[kind](session, api.url, filters)

    # THEN it has reviews 124..878, each once, in updated_at order
    assert [r["review_id"] for r in records] == list(range(124, 879))
    stamps = [r["updated_at"] for r in records]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert (stamps[0], stamps[-1]) == (at(123), at(877))


@pytest.mark.parametrize("kind", WALKERS)
def test_an_empty_window_is_one_empty_page(api: ReviewsApi, session: requests.Session, kind: str) -> None:
    assert WALKERS[kind](session, api.url, {"updated_since": at(5000)}) == []


def test_a_record_has_the_documented_shape(api: ReviewsApi, session: requests.Session) -> None:
    records = window(api, session, 0, 1000)
    assert len(records) == 1000
    for r in records:
        assert 1 <= r["part_key"] <= 200_000 and 1 <= r["customer_key"] <= 150_000
        assert r["rating"] in {1, 2, 3, 4, 5} and isinstance(r["helpful_votes"], int)
        assert isinstance(r["title"], str) and r["title"]
        assert 80 <= len(r["body"]) <= 300
        assert isinstance(r["verified_purchase"], bool) and isinstance(r["price_paid"], float)
        assert r["created_at"] == r["updated_at"] == at(r["review_id"] - 1)
        assert r["reviewer"] == {
            "customer_key": r["customer_key"],
            "name": f"Customer#{r['customer_key']:09d}",
            "nation": r["reviewer"]["nation"],
        }
        assert r["reviewer"]["nation"] in NATIONS
        assert len(r["tags"]) <= 3 and all(isinstance(t, str) for t in r["tags"])
        assert r["images"] is None or all(u.startswith("https://") for u in r["images"])
        assert "sentiment" not in r
    with_images = sum(r["images"] is not None for r in records)
    assert 0 < with_images < len(records) // 4


def test_price_paid_always_has_a_fractional_part_in_the_raw_json(
    api: ReviewsApi, session: requests.Session
) -> None:
    raw = session.get(f"{api.url}/v1/reviews/by-offset", params={"limit": 1000}, timeout=5).text
    prices = re.findall(r'"price_paid":([^,}]+)', raw)
    assert len(prices) == 1000
    assert all(re.fullmatch(r"\d+\.\d{1,2}", p) for p in prices), [p for p in prices if "." not in p][:5]
    assert any(p.endswith(".0") for p in prices)  # whole amounts are among them, and still say .0


def test_the_same_record_is_identical_every_time(api: ReviewsApi, session: requests.Session) -> None:
    first = session.get(f"{api.url}/v1/reviews/by-offset", params={"offset": 400, "limit": 50}, timeout=5)
    with ReviewsApi(ReviewsApiConfig(total=1000)) as another:
        again = session.get(
            f"{another.url}/v1/reviews/by-offset", params={"offset": 400, "limit": 50}, timeout=5
        )
    by_cursor = walk_cursor(session, api.url, {"updated_since": at(400), "updated_before": at(450)})
    assert first.content == again.content
    assert first.json()["items"] == by_cursor


def test_parts_are_one_page_of_500_tpch_parts(api: ReviewsApi, session: requests.Session) -> None:
    reply = session.get(f"{api.url}/v1/parts", timeout=5)
    parts = reply.json()["parts"]
    assert [p["part_key"] for p in parts] == list(range(1, 501))
    for p in parts:
        assert re.fullmatch(r"Brand#[1-5][1-5]", p["brand"]) and 1 <= p["size"] <= 50
        assert len(p["name"].split()) == 5 and len(p["type"].split()) == 3
    # TPC-H's P_RETAILPRICE for part 1 and 500
    assert (parts[0]["retail_price"], parts[499]["retail_price"]) == (901.0, 1400.5)
    assert requests.get(f"{api.url}/v1/parts", timeout=5).status_code == 401


def test_every_response_is_http_1_1_with_a_content_length(api: ReviewsApi, session: requests.Session) -> None:
    for reply in (
        session.get(f"{api.url}/health", timeout=5),
        session.get(f"{api.url}/v1/reviews", timeout=5),
        requests.get(f"{api.url}/v1/reviews", timeout=5),
        session.get(f"{api.url}/nowhere", timeout=5),
        session.post(f"{api.url}/v1/reviews", timeout=5),
        session.get(f"{api.url}/v1/reviews", params={"limit": "many"}, timeout=5),
    ):
        assert reply.raw.version == 11 and reply.headers.get("Connection") != "close"
        assert int(reply.headers["Content-Length"]) == len(reply.content)
        assert reply.headers["Content-Type"] == "application/json"
    assert [reply.status_code for reply in (
        session.get(f"{api.url}/nowhere", timeout=5),
        session.post(f"{api.url}/v1/reviews", timeout=5),
        session.get(f"{api.url}/v1/reviews", params={"limit": 0}, timeout=5),
        session.get(f"{api.url}/v1/reviews", params={"cursor": "not-ours"}, timeout=5),
        session.get(f"{api.url}/v1/reviews", params={"updated_since": "yesterday"}, timeout=5),
    )] == [404, 405, 400, 400, 400]  # fmt: skip


def test_a_page_size_over_the_maximum_is_capped(api: ReviewsApi, session: requests.Session) -> None:
    body = session.get(f"{api.url}/v1/reviews/by-page", params={"per_page": 100_000}, timeout=5).json()
    assert (body["per_page"], body["total_pages"], len(body["data"])) == (5000, 1, 1000)
    assert len(session.get(f"{api.url}/v1/reviews", timeout=5).json()["data"]) == 100


# Auth


@pytest.mark.parametrize(
    "credentials",
    [
        {"headers": {"X-API-Key": "local-api-key"}},
        {"params": {"api_key": "local-api-key"}},
        {"headers": {"Authorization": "Bearer local-bearer-token"}},
        {"auth": ("local-user", "local-password")},
    ],
    ids=["key in header", "key in query", "static bearer", "basic"],
)
def test_each_credential_kind_opens_v1(api: ReviewsApi, credentials: dict[str, Any]) -> None:
    assert requests.get(f"{api.url}/v1/reviews/by-link", timeout=5, **credentials).status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"headers": {"X-API-Key": "wrong"}},
        {"params": {"api_key": "wrong"}},
        {"headers": {"Authorization": "Bearer wrong"}},
        {"auth": ("local-user", "wrong")},
        {"headers": {"Authorization": "Basic not-base64!"}},
    ],
    ids=[
        "none",
        "wrong key in header",
        "wrong key in query",
        "unknown bearer",
        "wrong password",
        "garbled basic",
    ],
)
def test_missing_or_wrong_credentials_get_401(api: ReviewsApi, credentials: dict[str, Any]) -> None:
    reply = requests.get(f"{api.url}/v1/reviews", timeout=5, **credentials)
    assert reply.status_code == 401 and reply.json()["error"]
    assert requests.get(f"{api.url}/health", timeout=5, **credentials).json() == {"status": "ok"}


def test_an_oauth_token_opens_v1_until_it_expires() -> None:
    with ReviewsApi(ReviewsApiConfig(total=10, token_ttl_s=0.5)) as api:
        # GIVEN a token from client credentials in the form, and one from client credentials as Basic
        issued = requests.post(f"{api.url}/oauth/token", data=OAUTH_FORM, timeout=5).json()
        assert issued["token_type"] == "Bearer" and issued["expires_in"] == 0.5
        as_basic = requests.post(
            f"{api.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("local-client", "local-secret"),
            timeout=5,
        )
        assert as_basic.status_code == 200 and as_basic.json()["access_token"] != issued["access_token"]
        bearer = {"Authorization": f"Bearer {issued['access_token']}"}

        # WHEN used within its lifetime, and after
        fresh = requests.get(f"{api.url}/v1/reviews", headers=bearer, timeout=5)
        time.sleep(0.6)
        expired = requests.get(f"{api.url}/v1/reviews", headers=bearer, timeout=5)

        # THEN it opens /v1, then is refused as an invalid token
        assert fresh.status_code == 200
        assert expired.status_code == 401
        assert expired.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
        assert requests.get(f"{api.url}/_control/stats", timeout=5).json()["tokens_issued"] == 2


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": {**OAUTH_FORM, "client_secret": "wrong"}},
        {"data": {**OAUTH_FORM, "client_id": "stranger"}},
        {"data": {"grant_type": "client_credentials"}, "auth": ("local-client", "wrong")},
        {"data": {"grant_type": "client_credentials"}},
    ],
    ids=["wrong secret", "unknown client", "wrong basic secret", "no client"],
)
def test_a_bad_client_gets_no_token(api: ReviewsApi, request_kwargs: dict[str, Any]) -> None:
    reply = requests.post(f"{api.url}/oauth/token", timeout=5, **request_kwargs)
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"
    assert requests.get(f"{api.url}/_control/stats", timeout=5).json()["tokens_issued"] == 0


def test_only_the_client_credentials_grant_is_served(api: ReviewsApi) -> None:
    reply = requests.post(f"{api.url}/oauth/token", data={**OAUTH_FORM, "grant_type": "password"}, timeout=5)
    assert reply.status_code == 400 and reply.json()["error"] == "unsupported_grant_type"


def test_with_auth_off_v1_needs_no_credentials() -> None:
    with ReviewsApi(ReviewsApiConfig(total=10, auth=False)) as api:
        assert len(requests.get(f"{api.url}/v1/reviews", timeout=5).json()["data"]) == 10


# Rate limit and faults


def test_over_the_rate_limit_comes_429_with_retry_after() -> None:
    with ReviewsApi(ReviewsApiConfig(total=10, rate_limit_per_s=2)) as api, requests.Session() as s:
        statuses, limited = [], None
        for _ in range(6):
            reply = s.get(f"{api.url}/v1/reviews", headers=KEY, timeout=5)
            statuses.append(reply.status_code)
            limited = reply if reply.status_code == 429 else limited
        assert statuses[0] == 200 and 429 in statuses
        assert limited is not None and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"] == "rate_limited"
        assert s.get(f"{api.url}/health", timeout=5).status_code == 200  # /health is never limited
        stats = requests.get(f"{api.url}/_control/stats", timeout=5).json()
        assert stats["by_status"]["429"] == statuses.count(429)


def test_the_rate_limit_is_switched_on_and_off_at_run_time(
    api: ReviewsApi, session: requests.Session
) -> None:
    assert control(api, "faults", {"rate_limit_per_s": 0.5})["rate_limit_per_s"] == 0.5
    statuses = [session.get(f"{api.url}/v1/reviews", timeout=5).status_code for _ in range(3)]
    assert statuses == [200, 429, 429]
    control(api, "faults", {"rate_limit_per_s": None})
    assert session.get(f"{api.url}/v1/reviews", timeout=5).status_code == 200


def test_fail_5xx_fails_the_next_v1_requests_then_stops(api: ReviewsApi, session: requests.Session) -> None:
    control(api, "faults", {"fail_5xx": 2})
    assert session.get(f"{api.url}/health", timeout=5).status_code == 200
    assert requests.post(f"{api.url}/oauth/token", data=OAUTH_FORM, timeout=5).status_code == 200
    statuses = [session.get(f"{api.url}/v1/reviews", timeout=5).status_code for _ in range(3)]
    assert all(500 <= s < 600 for s in statuses[:2]) and statuses[2] == 200
    assert control(api, "faults", {})["fail_5xx"] == 0


def test_slow_answers_trip_a_client_read_timeout_then_stop(
    api: ReviewsApi, session: requests.Session
) -> None:
    control(api, "faults", {"slow": 1, "delay_s": 1.0})
    with pytest.raises(requests.ReadTimeout):
        session.get(f"{api.url}/v1/reviews", timeout=0.3)
    assert control(api, "faults", {})["slow"] == 0
    assert session.get(f"{api.url}/v1/reviews", timeout=5).status_code == 200


def test_malformed_answers_are_truncated_json_with_a_true_length(
    api: ReviewsApi, session: requests.Session
) -> None:
    control(api, "faults", {"malformed": 1})
    broken = session.get(f"{api.url}/v1/reviews/by-page", timeout=5)
    assert broken.status_code == 200 and int(broken.headers["Content-Length"]) == len(broken.content)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(broken.content)
    assert len(session.get(f"{api.url}/v1/reviews/by-page", timeout=5).json()["data"]) == 100


def test_reset_clears_every_fault(api: ReviewsApi, session: requests.Session) -> None:
    control(api, "faults", {"fail_5xx": 5, "slow": 5, "delay_s": 2, "malformed": 5, "drift_from_entry": 0})
    cleared = control(api, "faults", {"reset": True})
    assert cleared == {
        "fail_5xx": 0,
        "slow": 0,
        "delay_s": 0.0,
        "malformed": 0,
        "drift_from_entry": None,
        "rate_limit_per_s": None,
    }
    reply = session.get(f"{api.url}/v1/reviews", timeout=1)
    assert reply.status_code == 200 and "sentiment" not in reply.json()["data"][0]


def test_unknown_or_invalid_switches_are_refused_whole(api: ReviewsApi) -> None:
    for body in ({"fail_5xx": -1}, {"explode": 1}, {"fail_5xx": 2, "delay_s": "long"}):
        assert requests.post(f"{api.url}/_control/faults", json=body, timeout=5).status_code == 400
    assert control(api, "faults", {})["fail_5xx"] == 0


def test_drift_adds_sentiment_from_entry_k_on(api: ReviewsApi, session: requests.Session) -> None:
    plain = window(api, session, 40, 60)
    control(api, "faults", {"drift_from_entry": 50})

    drifted = window(api, session, 40, 60)
    by_cursor = walk_cursor(session, api.url, {"updated_since": at(40), "updated_before": at(60)})

    assert ["sentiment" in r for r in drifted] == [False] * 10 + [True] * 10
    assert by_cursor == drifted
    for r in drifted[10:]:
        assert r.pop("sentiment")["label"] in {"positive", "neutral", "negative"}
    assert drifted == plain  # nothing else changed
    sentiment = by_cursor[10]["sentiment"]
    assert set(sentiment) == {"label", "score"} and isinstance(sentiment["score"], float)
    assert all(-1 <= r["sentiment"]["score"] <= 1 for r in by_cursor[10:])
    control(api, "faults", {"drift_from_entry": None})
    assert window(api, session, 40, 60) == plain


# The change log


def test_a_touch_appends_an_updated_version_of_the_review(api: ReviewsApi, session: requests.Session) -> None:
    # GIVEN reviews 5 and 7 as first written
    before = {r["review_id"]: r for r in window(api, session, 0, 1000) if r["review_id"] in {5, 7}}

    # WHEN both are touched
    assert control(api, "dataset", {"touch": [5, 7]}) == {"total": 1000, "touched": 2, "entries": 1002}

    # THEN the log ends with one new version of each, at the next minutes, with new rating and votes
    updates = window(api, session, 1000, 2000)
    assert [(r["review_id"], r["updated_at"]) for r in updates] == [(5, at(1000)), (7, at(1001))]
    for update in updates:
        first = before[update["review_id"]]
        assert update["created_at"] == first["created_at"]
        assert update["rating"] != first["rating"] and update["helpful_votes"] != first["helpful_votes"]
        unchanged = set(first) - {"rating", "helpful_votes", "updated_at"}
        assert {k: update[k] for k in unchanged} == {k: first[k] for k in unchanged}
    assert [r for r in window(api, session, 0, 1000) if r["review_id"] in {5, 7}] == list(before.values())


def test_growing_after_a_touch_appends_new_reviews_after_it(
    api: ReviewsApi, session: requests.Session
) -> None:
    control(api, "dataset", {"touch": [3]})
    assert control(api, "dataset", {"total": 1004}) == {"total": 1004, "touched": 1, "entries": 1005}
    tail = window(api, session, 999, 2000)
    assert [(r["review_id"], r["updated_at"]) for r in tail] == [
        (1000, at(999)),
        (3, at(1000)),
        (1001, at(1001)),
        (1002, at(1002)),
        (1003, at(1003)),
        (1004, at(1004)),
    ]
    assert all(r["created_at"] == r["updated_at"] for r in tail if r["review_id"] > 1000)


def test_touching_a_review_that_does_not_exist_is_refused(api: ReviewsApi) -> None:
    reply = requests.post(f"{api.url}/_control/dataset", json={"touch": [1001]}, timeout=5)
    assert reply.status_code == 400
    assert requests.get(f"{api.url}/_control/dataset", timeout=5).json()["touched"] == 0


def test_stats_count_requests_statuses_and_records(api: ReviewsApi, session: requests.Session) -> None:
    session.get(f"{api.url}/v1/reviews", params={"limit": 250}, timeout=5)
    session.get(f"{api.url}/v1/reviews/by-offset", params={"offset": 900, "limit": 250}, timeout=5)
    requests.get(f"{api.url}/v1/reviews", timeout=5)
    stats = requests.get(f"{api.url}/_control/stats", timeout=5).json()
    assert stats == {
        "requests": 3,
        "by_status": {"200": 2, "401": 1},
        "records_served": 350,
        "tokens_issued": 0,
    }
    requests.post(f"{api.url}/_control/stats/reset", timeout=5)
    assert requests.get(f"{api.url}/_control/stats", timeout=5).json()["requests"] == 0


def test_stop_closes_kept_alive_connections(session: requests.Session) -> None:
    api = ReviewsApi(ReviewsApiConfig(total=10)).start()
    assert session.get(f"{api.url}/v1/reviews", timeout=5).status_code == 200
    api.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{api.url}/v1/reviews", timeout=5)


def start_process(port_file: Path, *flags: str) -> tuple[subprocess.Popen[bytes], str]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dptools.samples.reviews_api",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            *flags,
        ]
    )
    deadline = time.monotonic() + 15
    while not port_file.is_file():
        assert server.poll() is None and time.monotonic() < deadline, "the server never wrote its port"
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port_file.read_text()}"


def test_the_command_line_server_serves_the_same_data_and_stops_on_sigterm(
    api: ReviewsApi, session: requests.Session, tmp_path: Path
) -> None:
    server, url = start_process(
        tmp_path / "port", "--total", "1000", "--api-key", "other-key", "--token-ttl-s", "7"
    )
    try:
        page = requests.get(
            f"{url}/v1/reviews", params={"limit": 500}, headers={"X-API-Key": "other-key"}, timeout=5
        )
        in_process = session.get(f"{api.url}/v1/reviews", params={"limit": 500}, timeout=5)
        assert page.content == in_process.content
        assert session.get(f"{url}/v1/reviews", timeout=5).status_code == 401
        assert requests.post(f"{url}/oauth/token", data=OAUTH_FORM, timeout=5).json()["expires_in"] == 7
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0


def test_the_command_line_server_can_run_without_auth(tmp_path: Path) -> None:
    server, url = start_process(tmp_path / "port", "--no-auth", "--total", "42")
    try:
        assert requests.get(f"{url}/v1/reviews/by-offset", timeout=5).json()["total"] == 42
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 0


if __name__ == "__main__":
    # Throughput of a server process, pulled by one requests.Session in pages of 1000.
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        process, base = start_process(Path(scratch) / "port", "--total", "1000000")
        try:
            with requests.Session() as pull:
                pull.headers.update(KEY)
                started, pulled, cursor = time.perf_counter(), 0, None
                while True:
                    params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                    body = orjson.loads(pull.get(f"{base}/v1/reviews", params=params, timeout=30).content)
                    pulled += len(body["data"])
                    if not (cursor := body["meta"]["next_cursor"]):
                        break
                elapsed = time.perf_counter() - started
            print(f"{pulled:,} records in {elapsed:.1f}s: {pulled / elapsed:,.0f} records/s")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)


def test_the_command_line_sets_every_config_field() -> None:
    from dptools.samples.reviews_api.__main__ import config_from_args, parse_args

    args = parse_args(["--total", "5", "--rate-limit-per-s", "2.5", "--api-key", "k", "--no-auth"])
    assert config_from_args(args) == ReviewsApiConfig(total=5, rate_limit_per_s=2.5, api_key="k", auth=False)
    assert config_from_args(parse_args([])) == ReviewsApiConfig()
