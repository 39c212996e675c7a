"""Source definitions: the shipped ones load, and every mistake is named by file and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from dataplatform.api_ingest.definition import (
    DefinitionError,
    OAuth2ClientCredentials,
    load_source,
    load_sources,
)
from tests.conftest import ROOT

SOURCES = ROOT / "functions/api_ingest/sources"
ENV = {"DP_SOURCE_REVIEWS_URL": "http://127.0.0.1:9"}

VALID = {
    "name": "shop",
    "base_url": "${DP_SOURCE_SHOP_URL}",
    "auth": {"type": "api_key", "secret": "sources/shop"},
    "schedule": "rate(1 hour)",
    "expected_every": "PT2H",
    "endpoints": [
        {
            "name": "orders",
            "path": "/orders",
            "record_path": "data",
            "primary_key": ["id"],
            "pagination": {"type": "cursor", "cursor_path": "meta.next"},
            "params": {"since": "{start}"},
            "incremental": {"cursor_field": "updated_at", "initial_value": "2026-01-01T00:00:00Z"},
        }
    ],
}


def _write(tmp_path: Path, data: object, name: str = "shop") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def _with(**changes: object) -> dict[str, object]:
    return {**VALID, **changes}


def _endpoint(**changes: object) -> dict[str, object]:
    endpoints: list[dict[str, object]] = VALID["endpoints"]  # type: ignore[assignment]
    return _with(endpoints=[{**endpoints[0], **changes}])


def test_the_shipped_definitions_load() -> None:
    sources = load_sources(SOURCES, ENV)
    reviews = sources["reviews"]
    assert reviews.base_url == "http://127.0.0.1:9"
    assert reviews.auth.type == "oauth2_client_credentials"
    assert isinstance(reviews.auth, OAuth2ClientCredentials)
    assert reviews.auth.token_url == "http://127.0.0.1:9/oauth/token"
    assert [e.name for e in reviews.endpoints] == ["reviews", "parts"]
    assert reviews.runner == "lambda" and sources["review_history"].runner == "batch"


def test_a_valid_definition_fills_its_environment(tmp_path: Path) -> None:
    source = load_source(_write(tmp_path, VALID), {"DP_SOURCE_SHOP_URL": "https://shop.example"})
    assert source.base_url == "https://shop.example"
    assert source.table_name(source.endpoints[0]) == "shop__orders"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with(endpoints=[]), "shop.yaml: endpoints: List should have at least 1 item"),
        (
            _endpoint(pagination={"type": "cursor"}),
            "shop.yaml: endpoints.0.pagination.cursor.cursor_path: Field required",
        ),
        (_endpoint(pagination={"type": "scroll"}), "endpoints.0.pagination: Input tag 'scroll' found"),
        (_endpoint(params={"since": "{begin}"}), "unknown placeholders ['begin']"),
        (_endpoint(params={}), "must pass {start} in one of its params"),
        (_endpoint(name="Orders"), "shop.yaml: endpoints.0.name: String should match pattern"),
        (_endpoint(primary_key=[]), "endpoints.0.primary_key: List should have at least 1 item"),
        (
            _with(auth={"type": "oauth2_client_credentials", "secret": "x"}),
            "auth.oauth2_client_credentials.token_url",
        ),
        (_with(auth={"type": "api_key"}), "auth.api_key.secret: Field required"),
        (_with(rate_limit={"requests_per_second": 0}), "rate_limit.requests_per_second"),
        (_with(retries=3), "shop.yaml: retries: Extra inputs are not permitted"),
        (_with(name="other"), "shop.yaml: name: 'other' must match the file name"),
        (_with(runner="ecs"), "shop.yaml: runner: Input should be 'lambda' or 'batch'"),
        (
            _endpoint(incremental={**VALID["endpoints"][0]["incremental"], "backfill_chunk": "PT0S"}),  # type: ignore[index]
            "endpoints.0.incremental.backfill_chunk",
        ),
        ("endpoints: [", "shop.yaml: cannot read YAML"),
        ("- a list", "shop.yaml: the top level must be a mapping"),
    ],
)
def test_a_definition_with_errors_names_the_file_and_field(
    tmp_path: Path, data: object, message: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_source(_write(tmp_path, data), {"DP_SOURCE_SHOP_URL": "https://shop.example"})
    assert message in str(caught.value)


def test_an_unset_url_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"shop.yaml: base_url: \$\{DP_SOURCE_SHOP_URL\} is not set"):
        load_source(_write(tmp_path, VALID), {})


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no source definitions"):
        load_sources(tmp_path, {})


@pytest.mark.parametrize(
    ("runner", "days", "expected"),
    [
        ("lambda", None, "lambda"),  # a scheduled pull goes where the source says
        ("batch", None, "batch"),
        ("lambda", 31, "lambda"),  # a window up to `batch_above` (31 days by default) stays on Lambda
        ("lambda", 32, "batch"),  # a longer one is one Batch job
        ("batch", 1, "batch"),
    ],
)
def test_a_run_goes_to_batch_when_the_source_says_or_the_window_is_long(
    tmp_path: Path, runner: str, days: int | None, expected: str
) -> None:
    source = load_source(_write(tmp_path, _with(runner=runner)), None)
    window = timedelta(days=days) if days is not None else None
    assert source.runner_of(source.endpoints[0], window) == expected


def test_the_window_threshold_is_the_endpoints(tmp_path: Path) -> None:
    incremental = {**VALID["endpoints"][0]["incremental"], "batch_above": "PT6H"}  # type: ignore[index]
    source = load_source(_write(tmp_path, _endpoint(incremental=incremental)), None)
    assert source.runner_of(source.endpoints[0], timedelta(hours=6)) == "lambda"
    assert source.runner_of(source.endpoints[0], timedelta(hours=7)) == "batch"
