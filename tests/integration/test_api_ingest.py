"""REST API sources land in raw Iceberg tables over real HTTP, on the local stack.

GIVEN the sample reviews API on loopback (its own server per test, with faults switched on as needed),
WHEN api_ingest pulls an endpoint into raw.<source>__<endpoint>,
THEN every pagination and auth kind lands each record once, retries ride out 429s, 5xx bursts and
timeouts, failures commit nothing and leave the watermark alone, schemas evolve, replays are no-ops,
concurrent runs both land, and backfills never move the live watermark.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import requests
from pyiceberg.io.pyarrow import PyArrowFileIO
from typer.testing import CliRunner

from dataplatform.api_ingest.definition import SourceDefinition
from dataplatform.api_ingest.raw_table import commit_run
from dataplatform.api_ingest.request import IngestEvent
from dataplatform.api_ingest.run import QUARANTINE_PREFIX, IngestDeps, IngestResult, RunFailed, ingest
from dataplatform.api_ingest.run_files import UploadedFile
from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.iceberg.summary import RUN_ID
from dataplatform.settings import Settings
from dptools.cli.main import app
from dptools.local.paths import DP_LOCAL_DIR
from dptools.local.stack import LocalStack
from dptools.samples.reviews_api import EPOCH, ReviewsApi, ReviewsApiConfig
from tests.conftest import ROOT, bus_listener

SOURCES = ROOT / "functions/api_ingest/sources"
MINUTE = timedelta(minutes=1)
PAGE = 100
TOTAL = 1_000


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture
def serve() -> Iterator[Callable[..., ReviewsApi]]:
    """Start a sample API with the given config; every one started is stopped after the test."""
    started: list[ReviewsApi] = []

    def start(**config: Any) -> ReviewsApi:
        api = ReviewsApi(ReviewsApiConfig(**{"total": TOTAL, **config})).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


@pytest.fixture(scope="module")
def base_deps(stack_settings: Settings) -> IngestDeps:
    return IngestDeps.from_settings(stack_settings, SOURCES)


@pytest.fixture(scope="module")
def landed(stack_settings: Settings) -> Callable[[], list[dict[str, Any]]]:
    pattern = {"source": ["dataplatform.ingest"], "detail-type": ["RawDataLanded"]}
    return bus_listener(stack_settings, "test-raw-data-landed", pattern)


def control(api: ReviewsApi, what: str, **body: Any) -> dict[str, Any]:
    response = requests.post(f"{api.url}/_control/{what}", json=body, timeout=5)
    response.raise_for_status()
    return dict(response.json())


def stats(api: ReviewsApi) -> dict[str, Any]:
    return dict(requests.get(f"{api.url}/_control/stats", timeout=5).json())


def store_secret(settings: Settings, name: str, value: dict[str, str]) -> None:
    secrets = client("secretsmanager", settings)
    secret_id = f"{settings.secret_prefix}{name}"
    try:
        secrets.create_secret(Name=secret_id, SecretString=json.dumps(value))
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))


CREDENTIALS = {
    "api_key": {"api_key": "local-api-key"},
    "bearer": {"token": "local-bearer-token"},
    "basic": {"username": "local-user", "password": "local-password"},
    "oauth2_client_credentials": {"client_id": "local-client", "client_secret": "local-secret"},
}

REVIEWS: dict[str, Any] = {
    "name": "reviews",
    "path": "/v1/reviews",
    "record_path": "data",
    "primary_key": ["review_id"],
    "pagination": {"type": "cursor", "cursor_path": "meta.next_cursor"},
    "params": {"limit": PAGE, "updated_since": "{start}", "updated_before": "{end}"},
    "incremental": {
        "cursor_field": "updated_at",
        "initial_value": EPOCH.isoformat(),
        "overlap": "PT10M",
        "backfill_chunk": "PT4H",
    },
}


def make_source(
    settings: Settings,
    name: str,
    api: ReviewsApi,
    endpoint: dict[str, Any] | None = None,
    auth: dict[str, Any] | None = None,
    **extra: Any,
) -> SourceDefinition:
    """A definition of `api` (the cursor endpoint unless told), its secret stored under the stack prefix."""
    auth = auth or {"type": "api_key", "secret": f"tests/{name}"}
    if auth["type"] != "none":
        store_secret(settings, auth["secret"], CREDENTIALS[auth["type"]])
    if auth["type"] == "oauth2_client_credentials":
        auth = {"token_url": f"{api.url}/oauth/token", **auth}
    return SourceDefinition.model_validate(
        {
            "name": name,
            "base_url": api.url,
            "auth": auth,
            "schedule": "rate(1 hour)",
            "expected_every": "PT6H",
            "endpoints": [endpoint or REVIEWS],
            "max_retries": 4,
            **extra,
        }
    )


def with_sources(deps: IngestDeps, *sources: SourceDefinition) -> IngestDeps:
    return replace(deps, sources={s.name: s for s in sources})


def scheduled(source: SourceDefinition, at: datetime, endpoint: str = "reviews") -> IngestEvent:
    return IngestEvent(source=source.name, endpoint=endpoint, scheduled_time=at)


def backfill(source: SourceDefinition, start: datetime, end: datetime) -> IngestEvent:
    return IngestEvent.model_validate(
        {"source": source.name, "endpoint": "reviews", "window": {"start": start, "end": end}}
    )


def rows(settings: Settings, table: str) -> pa.Table:
    return glue_catalog(settings).load_table(table).scan().to_arrow()


def snapshots(settings: Settings, table: str) -> list[Any]:
    try:
        return list(glue_catalog(settings).load_table(table).snapshots())
    except Exception:
        return []


def entry_time(entry: int) -> datetime:
    return EPOCH + entry * MINUTE


def assert_each_review_once(table: pa.Table, expected_ids: set[int]) -> None:
    ids = table.column("review_id").to_pylist()
    assert len(ids) == len(set(ids)), "a record landed twice"
    assert set(ids) == expected_ids


def watermark(deps: IngestDeps, source: SourceDefinition) -> str | None:
    return deps.state.watermark(source.name, "reviews")


# ------------------------------------------------------------------ pagination and auth
PAGINATIONS: dict[str, dict[str, Any]] = {
    "cursor": REVIEWS,
    "next_link": {
        **REVIEWS,
        "path": "/v1/reviews/by-link",
        "record_path": "results",
        "pagination": {"type": "next_link", "next_path": "links.next"},
    },
    "link_header": {
        **REVIEWS,
        "path": "/v1/reviews/by-header",
        "record_path": None,
        "pagination": {"type": "link_header"},
    },
    "offset_with_total": {
        **REVIEWS,
        "path": "/v1/reviews/by-offset",
        "record_path": "items",
        "pagination": {"type": "offset", "limit": PAGE, "total_path": "total"},
        "params": {"updated_since": "{start}", "updated_before": "{end}"},
    },
    "offset": {
        **REVIEWS,
        "path": "/v1/reviews/by-offset",
        "record_path": "items",
        "pagination": {"type": "offset", "limit": PAGE},
        "params": {"updated_since": "{start}", "updated_before": "{end}"},
    },
    "page_number_with_total": {
        **REVIEWS,
        "path": "/v1/reviews/by-page",
        "record_path": "data",
        "pagination": {
            "type": "page_number",
            "size": PAGE,
            "size_param": "per_page",
            "total_pages_path": "total_pages",
        },
        "params": {"updated_since": "{start}", "updated_before": "{end}"},
    },
    "page_number": {
        **REVIEWS,
        "path": "/v1/reviews/by-page",
        "record_path": "data",
        "pagination": {"type": "page_number", "size": PAGE, "size_param": "per_page"},
        "params": {"updated_since": "{start}", "updated_before": "{end}"},
    },
}


@pytest.mark.parametrize("kind", sorted(PAGINATIONS))
def test_every_pagination_kind_lands_each_record_once(
    kind: str, serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve()
    source = make_source(stack_settings, f"pages_{kind}", api, PAGINATIONS[kind])
    # The window ends at entry 950: the API's updated_before filter leaves the last 50 for later.
    result = ingest(scheduled(source, entry_time(950)), with_sources(base_deps, source))
    assert result.status == "committed"
    assert result.record_count == 950
    assert result.pages == 10 if kind != "page_number" and kind != "offset" else result.pages >= 10
    assert_each_review_once(rows(stack_settings, result.table), set(range(1, 951)))


def test_a_single_page_endpoint(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve()
    parts = {"name": "parts", "path": "/v1/parts", "record_path": "parts", "primary_key": ["part_key"]}
    source = make_source(stack_settings, "pages_single", api, {**parts, "pagination": {"type": "single"}})
    result = ingest(scheduled(source, entry_time(10), "parts"), with_sources(base_deps, source))
    table = rows(stack_settings, result.table)
    assert result.pages == 1 and table.num_rows == result.record_count > 0
    assert table.column("part_key").unique().to_pylist() == table.column("part_key").to_pylist()


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "api_key", "location": "header", "name": "X-API-Key"},
        {"type": "api_key", "location": "query", "name": "api_key"},
        {"type": "bearer"},
        {"type": "basic"},
        {"type": "oauth2_client_credentials"},
    ],
    ids=["api_key_header", "api_key_query", "bearer", "basic", "oauth2"],
)
def test_every_auth_kind(
    auth: dict[str, Any], serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve(total=300)
    name = f"auth_{auth['type']}_{auth.get('location', 'x')}"
    source = make_source(stack_settings, name, api, auth={**auth, "secret": f"tests/{name}"})
    result = ingest(scheduled(source, entry_time(300)), with_sources(base_deps, source))
    assert result.record_count == 300
    assert stats(api)["by_status"].get("401", 0) == 0


def test_wrong_credentials_fail_the_run_cleanly(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve(total=300)
    source = make_source(stack_settings, "auth_wrong", api)
    store_secret(stack_settings, "tests/auth_wrong", {"api_key": "not-the-key"})
    with pytest.raises(RunFailed, match="HTTP 401"):
        ingest(scheduled(source, entry_time(300)), with_sources(base_deps, source))
    assert snapshots(stack_settings, "raw.auth_wrong__reviews") == []


def test_an_oauth_token_expiring_mid_run_is_renewed(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    # Tokens live 0.5 s and the client sends 5 requests a second: the run outlives several tokens.
    api = serve(total=1_500, token_ttl_s=0.5)
    source = make_source(
        stack_settings,
        "auth_expiry",
        api,
        auth={"type": "oauth2_client_credentials", "secret": "tests/auth_expiry"},
        rate_limit={"requests_per_second": 5},
    )
    result = ingest(scheduled(source, entry_time(1_500)), with_sources(base_deps, source))
    assert result.record_count == 1_500
    assert stats(api)["tokens_issued"] >= 2


def test_a_token_revoked_mid_run_is_renewed_on_its_401(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve(total=1_500)  # tokens would live an hour
    source = make_source(
        stack_settings,
        "auth_revoked",
        api,
        auth={"type": "oauth2_client_credentials", "secret": "tests/auth_revoked"},
        rate_limit={"requests_per_second": 5},
    )
    revoke = threading.Timer(1.0, lambda: control(api, "faults", revoke_tokens=True))
    revoke.start()
    try:
        result = ingest(scheduled(source, entry_time(1_500)), with_sources(base_deps, source))
    finally:
        revoke.cancel()
    assert result.record_count == 1_500
    served = stats(api)
    assert served["by_status"].get("401", 0) >= 1 and served["tokens_issued"] == 2


# ------------------------------------------------------------------ faults the run rides out
def test_429_with_retry_after_is_waited_out(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve(total=600, rate_limit_per_s=4)
    source = make_source(stack_settings, "faults_429", api)
    result = ingest(scheduled(source, entry_time(600)), with_sources(base_deps, source))
    assert result.record_count == 600
    assert stats(api)["by_status"].get("429", 0) >= 1


@pytest.mark.parametrize(
    ("name", "faults", "extra"),
    [
        ("faults_5xx", {"fail_5xx": 3}, {}),
        ("faults_timeout", {"slow": 2, "delay_s": 1.5}, {"read_timeout_s": 0.5}),
    ],
)
def test_5xx_bursts_and_timeouts_are_retried(
    name: str,
    faults: dict[str, Any],
    extra: dict[str, Any],
    serve: Callable[..., ReviewsApi],
    base_deps: IngestDeps,
    stack_settings: Settings,
) -> None:
    api = serve(total=500)
    source = make_source(stack_settings, name, api, **extra)
    control(api, "faults", **faults)
    result = ingest(scheduled(source, entry_time(500)), with_sources(base_deps, source))
    assert result.record_count == 500
    assert_each_review_once(rows(stack_settings, result.table), set(range(1, 501)))


# ------------------------------------------------------------------ faults that fail the run
@pytest.mark.parametrize(
    ("name", "faults", "extra", "error"),
    [
        ("fail_malformed", {"malformed": 1}, {}, "not valid JSON"),
        ("fail_5xx", {"fail_5xx": 50}, {"max_retries": 2}, "HTTP 50"),
        (
            "fail_timeout",
            {"slow": 50, "delay_s": 1.0},
            {"max_retries": 1, "read_timeout_s": 0.3},
            "timed out",
        ),
    ],
)
def test_a_run_that_fails_commits_nothing_and_keeps_the_watermark(
    name: str,
    faults: dict[str, Any],
    extra: dict[str, Any],
    error: str,
    serve: Callable[..., ReviewsApi],
    base_deps: IngestDeps,
    stack_settings: Settings,
) -> None:
    api = serve(total=300)
    source = make_source(stack_settings, name, api, **extra)
    deps = with_sources(base_deps, source)
    first = ingest(scheduled(source, entry_time(300)), deps)
    mark, before = watermark(deps, source), snapshots(stack_settings, first.table)

    control(api, "dataset", total=600)
    control(api, "faults", **faults)
    failing = scheduled(source, entry_time(600))
    with pytest.raises(RunFailed, match=error):
        ingest(failing, deps)

    assert snapshots(stack_settings, first.table) == before
    assert watermark(deps, source) == mark
    s3, bucket = client("s3", stack_settings), stack_settings.require("raw_bucket")
    quarantined = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{QUARANTINE_PREFIX}/{name}/reviews/{failing.run_id}.json")[
            "Body"
        ].read()
    )
    assert quarantined["run_id"] == failing.run_id and error.split()[0] in quarantined["message"]
    location = glue_catalog(stack_settings).load_table(first.table).location()
    prefix = location.split("/", 3)[3]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    assert not [k for k in keys if failing.run_id.replace(":", "-") in k], "the failed run left files"

    # Once the source is healthy, the same scheduled event lands what the failed run could not.
    control(api, "faults", reset=True)
    retried = ingest(failing, deps)
    assert retried.status == "committed"
    assert_each_review_once(rows(stack_settings, first.table), set(range(1, 601)))


def test_the_max_pages_guard_fails_the_run_cleanly(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve(total=1_000)
    source = make_source(stack_settings, "max_pages", api, {**REVIEWS, "max_pages": 3})
    with pytest.raises(RunFailed, match="more than max_pages=3 pages"):
        ingest(scheduled(source, entry_time(1_000)), with_sources(base_deps, source))
    assert snapshots(stack_settings, "raw.max_pages__reviews") == []


@pytest.mark.parametrize(
    ("event", "code", "message"),
    [
        ({"source": "reviews", "endpoint": "reviews"}, 2, "give exactly one of scheduled_time"),
        (
            {
                "source": "reviews",
                "endpoint": "reviews",
                "window": {"start": "2026-02-01", "end": "2026-01-01"},
            },
            2,
            "is not before its end",
        ),
        (
            {"source": "nope", "endpoint": "reviews", "scheduled_time": "2026-11-24T08:00:00Z"},
            1,
            "no source definition 'nope'",
        ),
        (
            {"source": "reviews", "endpoint": "nope", "scheduled_time": "2026-11-24T08:00:00Z"},
            1,
            "has no endpoint 'nope'",
        ),
    ],
)
def test_a_bad_event_is_refused_with_a_clear_error(
    event: dict[str, Any],
    code: int,
    message: str,
    local_stack: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """Through `dp invoke`: a malformed event is refused before any work; in AWS it fails the
    invocation, so Lambda's retries and then the dead-letter queue keep it."""
    monkeypatch.setenv(DP_LOCAL_DIR, str(local_stack.paths.root))
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    result = CliRunner().invoke(app, ["invoke", "ApiIngestFunction", "-e", str(path)])
    assert result.exit_code == code
    assert message in (result.output + repr(result.exception))


# ------------------------------------------------------------------ schema drift
def test_a_field_appearing_mid_stream_evolves_the_table(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve(total=800)
    control(api, "faults", drift_from_entry=450)
    source = make_source(stack_settings, "drift", api)
    result = ingest(scheduled(source, entry_time(800)), with_sources(base_deps, source))
    table = glue_catalog(stack_settings).load_table(result.table)
    assert "sentiment" in table.schema().column_names
    data = table.scan().to_arrow().sort_by("review_id")
    sentiment = data.column("sentiment").to_pylist()
    assert sentiment[:450] == [None] * 450
    assert all(s is not None and s["label"] for s in sentiment[450:])
    assert result.files >= 2, "a new file starts when the schema grows"


# ------------------------------------------------------------------ incremental, replays, concurrency
def test_incremental_runs_take_only_what_changed_and_replays_change_nothing(
    serve: Callable[..., ReviewsApi],
    base_deps: IngestDeps,
    stack_settings: Settings,
    landed: Callable[[], list[dict[str, Any]]],
) -> None:
    api = serve(total=400)
    source = make_source(stack_settings, "incremental", api)
    deps = with_sources(base_deps, source)
    first = ingest(scheduled(source, entry_time(400)), deps)
    assert first.record_count == 400 and watermark(deps, source) == "2026-01-01T06:39:00Z"

    control(api, "dataset", total=450)  # 50 new reviews, entries 400-449
    control(api, "dataset", touch=[7, 8])  # two updated reviews, entries 450-451
    second_event = scheduled(source, entry_time(460))
    second = ingest(second_event, deps)
    # The overlap re-reads the 10 minutes up to the watermark (11 records, one a minute, both ends
    # included); they are not written twice.
    assert second.duplicates_skipped == 11
    assert second.record_count == 52
    table = rows(stack_settings, first.table)
    assert table.num_rows == 452
    assert sorted(table.filter(pc.equal(table.column("review_id"), 7)).column("updated_at").to_pylist()) == [
        "2026-01-01T00:06:00Z",
        "2026-01-01T07:30:00Z",
    ]

    snapshots_before = len(snapshots(stack_settings, first.table))
    replay = ingest(second_event, deps)
    assert replay.status == "already-committed" and replay.snapshot_id == second.snapshot_id
    assert len(snapshots(stack_settings, first.table)) == snapshots_before
    assert rows(stack_settings, first.table).num_rows == 452
    ours = [e["detail"] for e in landed() if e["detail"]["table"] == first.table]
    assert sorted(e["run_id"] for e in ours) == sorted([first.run_id, second.run_id]), (
        "each run announced once"
    )


def test_a_run_that_died_after_its_commit_is_finished_by_the_replay(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve(total=200)
    source = make_source(stack_settings, "died_after_commit", api)
    deps = with_sources(base_deps, source)

    class Dying(Exception):
        pass

    def die(*_: Any, **__: Any) -> bool:
        raise Dying

    event = scheduled(source, entry_time(200))
    dying = replace(deps, state=type(deps.state)(deps.state._db, deps.state._table))
    dying.state.advance_watermark = die  # type: ignore[method-assign]
    with pytest.raises(Dying):
        ingest(event, dying)
    assert (
        watermark(deps, source) is None
        and len(snapshots(stack_settings, "raw.died_after_commit__reviews")) == 1
    )

    replay = ingest(event, deps)
    assert replay.status == "already-committed"
    assert watermark(deps, source) == "2026-01-01T03:19:00Z"
    assert rows(stack_settings, "raw.died_after_commit__reviews").num_rows == 200


def test_two_concurrent_runs_on_one_table_both_land(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve(total=2_000)
    source = make_source(stack_settings, "concurrent", api)
    deps = with_sources(base_deps, source)
    events = [
        backfill(source, entry_time(0), entry_time(1_000)),
        backfill(source, entry_time(1_000), entry_time(2_000)),
    ]
    results: list[IngestResult] = []
    barrier = threading.Barrier(2)

    def run(event: IngestEvent) -> None:
        barrier.wait()
        results.append(ingest(event, deps))

    threads = [threading.Thread(target=run, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(r.record_count for r in results) == [1_000, 1_000]
    assert_each_review_once(rows(stack_settings, "raw.concurrent__reviews"), set(range(1, 2_001)))
    assert {s.summary[RUN_ID] for s in snapshots(stack_settings, "raw.concurrent__reviews") if s.summary} == {
        e.run_id for e in events
    }


def test_a_commit_from_a_stale_table_retries_and_loses_nothing(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    """The conflict itself, made certain: the first attempt commits on a table another run moved."""
    api = serve(total=200)
    source = make_source(stack_settings, "stale_commit", api)
    deps = with_sources(base_deps, source)
    ingest(backfill(source, entry_time(0), entry_time(100)), deps)
    catalog = glue_catalog(stack_settings)
    stale = catalog.load_table("raw.stale_commit__reviews")
    ingest(backfill(source, entry_time(100), entry_time(150)), deps)  # moves the table on

    class StaleOnce:
        def __init__(self) -> None:
            self.loads = 0

        def load_table(self, identifier: str) -> Any:
            self.loads += 1
            return stale if self.loads == 1 else catalog.load_table(identifier)

    proxy = StaleOnce()
    snapshot = stale.current_snapshot()
    assert snapshot is not None
    files = [f.file for f in stale.scan().plan_files()]
    io = PyArrowFileIO(catalog.properties)
    uploaded = [
        UploadedFile(
            f.file_path,
            f.file_size_in_bytes,
            f.record_count,
            pq.read_metadata(io.new_input(f.file_path).open()),
        )
        for f in files
    ]
    _, committed = commit_run(
        proxy,  # type: ignore[arg-type]
        "raw.stale_commit__reviews",
        pa.schema([]),
        uploaded,
        {RUN_ID: "stale-retry"},
    )
    assert committed and proxy.loads == 2
    runs = [
        s.summary[RUN_ID] for s in catalog.load_table("raw.stale_commit__reviews").snapshots() if s.summary
    ]
    assert runs[-1] == "stale-retry" and len(runs) == 3, "the other run's snapshot survived the retry"


# ------------------------------------------------------------------ backfill
def test_a_backfill_lands_its_window_and_leaves_the_live_watermark_alone(
    serve: Callable[..., ReviewsApi], base_deps: IngestDeps, stack_settings: Settings
) -> None:
    api = serve(total=600)
    source = make_source(stack_settings, "backfilled", api)
    deps = with_sources(base_deps, source)
    # Live pulls started late: the schedule's first window begins at entry 300 (its initial value).
    late = SourceDefinition.model_validate(
        {
            **source.model_dump(mode="json"),
            "endpoints": [
                {
                    **REVIEWS,
                    "incremental": {**REVIEWS["incremental"], "initial_value": entry_time(300).isoformat()},
                }
            ],
        }
    )
    live = ingest(scheduled(late, entry_time(600)), with_sources(base_deps, late))
    mark = watermark(deps, source)
    assert live.record_count == 300 and mark == "2026-01-01T09:59:00Z"

    result = ingest(backfill(source, entry_time(0), entry_time(400)), deps)
    assert result.record_count == 300 and result.duplicates_skipped == 100
    assert watermark(deps, source) == mark
    assert_each_review_once(rows(stack_settings, live.table), set(range(1, 601)))


def test_dp_ingest_backfill_sends_chunks_and_reports_progress(
    local_stack: LocalStack, stack_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI and the template's function, against the stack's own sample API."""
    monkeypatch.setenv(DP_LOCAL_DIR, str(local_stack.paths.root))
    runner = CliRunner()
    args = ["ingest", "backfill", "reviews", "--endpoint", "reviews"]
    window = ["--start", "2026-01-01T00:00:00Z", "--end", "2026-01-22T00:00:00Z"]  # 3 chunks of 7 days
    state = IngestDeps.from_settings(stack_settings, SOURCES).state
    mark = state.watermark("reviews", "reviews")

    result = runner.invoke(app, [*args, *window])
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.output.splitlines() if line.startswith("chunk")] == [
        "chunk 1/3",
        "chunk 2/3",
        "chunk 3/3",
    ]
    table = rows(stack_settings, "raw.reviews__reviews")
    in_window = table.filter(pc.less(table.column("updated_at"), "2026-01-22T00:00:00Z"))
    assert_each_review_once(in_window, set(range(1, 21 * 24 * 60 + 1)))
    assert state.watermark("reviews", "reviews") == mark

    again = runner.invoke(app, [*args, *window])
    chunks = [line for line in again.output.splitlines() if line.startswith("chunk")]
    assert (
        again.exit_code == 0 and [c.split(") ")[1].split(",")[0] for c in chunks] == ["already-committed"] * 3
    )
