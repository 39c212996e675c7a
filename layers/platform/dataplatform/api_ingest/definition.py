"""REST API source definitions: one YAML file per source, validated before anything is fetched.

A definition names its base URL, auth (secrets by name only), rate limit, and endpoints, each with its
record path, primary key, pagination, request parameters and incremental cursor. `${NAME}` in the base
URL or token URL is filled from the function's environment, so a stage points at its own server.
Errors name the file and the field:
`reviews.yaml: endpoints.0.pagination.cursor.cursor_path: Field required`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NAME = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"  # no "__": it separates source and endpoint in table names
# Where a run goes: ApiIngestFunction (Lambda, at most 15 minutes), or the same code as an AWS Batch job.
Runner = Literal["lambda", "batch"]
WINDOW_PLACEHOLDERS = {"start", "end"}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DefinitionError(ValueError):
    """A source definition is unreadable or invalid; the message names the file and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ------------------------------------------------------------------ auth
class NoAuth(_Model):
    type: Literal["none"]


class ApiKeyAuth(_Model):
    """Secret keys: `api_key`."""

    type: Literal["api_key"]
    secret: str
    location: Literal["header", "query"] = "header"
    name: str = "X-API-Key"


class BearerAuth(_Model):
    """Secret keys: `token`."""

    type: Literal["bearer"]
    secret: str


class BasicAuth(_Model):
    """Secret keys: `username`, `password`."""

    type: Literal["basic"]
    secret: str


class OAuth2ClientCredentials(_Model):
    """Secret keys: `client_id`, `client_secret`. Tokens are refreshed before they expire, and on a 401."""

    type: Literal["oauth2_client_credentials"]
    secret: str
    token_url: str
    scopes: list[str] = Field(default_factory=list)


Auth = Annotated[
    NoAuth | ApiKeyAuth | BearerAuth | BasicAuth | OAuth2ClientCredentials, Field(discriminator="type")
]


# ------------------------------------------------------------------ pagination
class SinglePage(_Model):
    type: Literal["single"]


class CursorPagination(_Model):
    """The next page's cursor is in the body; it goes into `cursor_param`. A null cursor ends."""

    type: Literal["cursor"]
    cursor_path: str
    cursor_param: str = "cursor"


class NextLinkPagination(_Model):
    """The body holds the next page's absolute URL. A null link ends."""

    type: Literal["next_link"]
    next_path: str


class LinkHeaderPagination(_Model):
    """RFC 8288 `Link: <url>; rel="next"`. No next link ends."""

    type: Literal["link_header"]


class OffsetPagination(_Model):
    """With `total_path`, every page is known after the first, and pages are fetched concurrently."""

    type: Literal["offset"]
    limit: int = Field(gt=0)
    offset_param: str = "offset"
    limit_param: str = "limit"
    total_path: str | None = None


class PageNumberPagination(_Model):
    """With `total_pages_path`, every page is known after the first, and pages are fetched concurrently."""

    type: Literal["page_number"]
    page_param: str = "page"
    start: int = 1
    size: int | None = Field(default=None, gt=0)
    size_param: str | None = None
    total_pages_path: str | None = None


Pagination = Annotated[
    SinglePage
    | CursorPagination
    | NextLinkPagination
    | LinkHeaderPagination
    | OffsetPagination
    | PageNumberPagination,
    Field(discriminator="type"),
]


# ------------------------------------------------------------------ endpoints and sources
class Incremental(_Model):
    """Pull only records whose cursor field moved since the watermark, re-reading `overlap` before it.

    Cursor values are ISO-8601 UTC timestamps, compared as the source writes them.
    """

    cursor_field: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # a top-level field of the records
    initial_value: datetime
    overlap: timedelta = timedelta(minutes=10)
    backfill_chunk: timedelta = Field(default=timedelta(days=1), gt=timedelta(0))
    # A backfill window longer than this runs as one Batch job rather than a Lambda invocation per chunk.
    batch_above: timedelta = Field(default=timedelta(days=31), gt=timedelta(0))

    @field_validator("initial_value")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RateLimit(_Model):
    requests_per_second: int = Field(gt=0)


class Endpoint(_Model):
    name: str = Field(pattern=NAME)
    path: str
    record_path: str | None = None  # None: the body is the list of records
    primary_key: list[str] = Field(min_length=1)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    pagination: Pagination
    incremental: Incremental | None = None
    schedule: str | None = None
    expected_every: timedelta | None = None
    max_pages: int = Field(default=10_000, gt=0)
    page_concurrency: int = Field(default=4, gt=0, le=32)

    @model_validator(mode="after")
    def _placeholders_fit(self) -> Endpoint:
        used = {
            name
            for value in self.params.values()
            if isinstance(value, str)
            for _, name, _, _ in string.Formatter().parse(value)
            if name is not None
        }
        unknown = used - WINDOW_PLACEHOLDERS
        if unknown:
            raise ValueError(f"params use unknown placeholders {sorted(unknown)}; known: {{start}}, {{end}}")
        if self.incremental is not None and "start" not in used:
            raise ValueError("an incremental endpoint must pass {start} in one of its params")
        if self.incremental is None and used:
            raise ValueError("params use window placeholders but the endpoint has no `incremental`")
        return self


class SourceDefinition(_Model):
    name: str = Field(pattern=NAME)
    description: str = ""
    base_url: str
    auth: Auth
    headers: dict[str, str] = Field(default_factory=dict)
    rate_limit: RateLimit | None = None
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    schedule: str
    expected_every: timedelta = Field(description="the no-data alarm fires after this long without records")
    runner: Runner = "lambda"  # what the schedule starts: the Lambda, or the same code as a Batch job
    endpoints: list[Endpoint] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_endpoints(self) -> SourceDefinition:
        names = [e.name for e in self.endpoints]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"endpoint names repeat: {duplicates}")
        return self

    def endpoint(self, name: str) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint
        known = ", ".join(e.name for e in self.endpoints)
        raise DefinitionError(f"source {self.name!r} has no endpoint {name!r}; it has: {known}")

    def schedule_of(self, endpoint: Endpoint) -> str:
        return endpoint.schedule or self.schedule

    def expected_every_of(self, endpoint: Endpoint) -> timedelta:
        return endpoint.expected_every or self.expected_every

    def runner_of(self, endpoint: Endpoint, window: timedelta | None = None) -> Runner:
        """Batch for a source marked so, and for a backfill window longer than the endpoint's
        `batch_above`; the Lambda otherwise."""
        if self.runner == "batch":
            return "batch"
        limit = endpoint.incremental.batch_above if endpoint.incremental else None
        return "batch" if window is not None and limit is not None and window > limit else "lambda"

    def table_name(self, endpoint: Endpoint) -> str:
        return f"{self.name}__{endpoint.name}"


# ------------------------------------------------------------------ loading
def _fill_env(value: str, env: Mapping[str, str] | None, where: str) -> str:
    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if env is None:  # only the shape is wanted (planning a backfill): leave the reference
            return match.group(0)
        if not env.get(name):
            raise DefinitionError(f"{where}: ${{{name}}} is not set in the environment")
        return env[name]

    return _ENV_REF.sub(lookup, value)


def _location(loc: tuple[int | str, ...]) -> str:
    """`endpoints.0.pagination.cursor.cursor_path`: the path, with the union member chosen by `type`."""
    return ".".join(str(part) for part in loc) or "(top level)"


def load_source(path: Path, env: Mapping[str, str] | None) -> SourceDefinition:
    """One definition file; raises DefinitionError naming the file and the field. With `env` None,
    `${...}` references are kept as written."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{path.name}: cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DefinitionError(f"{path.name}: the top level must be a mapping")
    try:
        source = SourceDefinition.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise DefinitionError(f"{path.name}: {problems}") from None
    if path.stem != source.name:
        raise DefinitionError(f"{path.name}: name: {source.name!r} must match the file name")
    updates: dict[str, Any] = {"base_url": _fill_env(source.base_url, env, f"{path.name}: base_url")}
    if isinstance(source.auth, OAuth2ClientCredentials):
        token_url = _fill_env(source.auth.token_url, env, f"{path.name}: auth.token_url")
        updates["auth"] = source.auth.model_copy(update={"token_url": token_url})
    return source.model_copy(update=updates)


def find_source(sources: Mapping[str, SourceDefinition], name: str) -> SourceDefinition:
    """The source called `name`, or DefinitionError naming the known ones."""
    if name not in sources:
        raise DefinitionError(f"no source definition {name!r}; known: {', '.join(sorted(sources))}")
    return sources[name]


def load_sources(directory: Path, env: Mapping[str, str] | None) -> dict[str, SourceDefinition]:
    """Every `*.yaml` under `directory`, by source name."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise DefinitionError(f"{directory}: no source definitions (*.yaml)")
    return {source.name: source for source in (load_source(f, env) for f in files)}
