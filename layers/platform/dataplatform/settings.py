"""The one place that reads configuration.

Env variable names are constants here; domain code takes a `Settings` (or plain arguments) and never
reads `os.environ` itself. Explicit arguments beat the environment, which beats the defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

DP_PROFILE = "DP_PROFILE"
DP_STAGE = "DP_STAGE"
AWS_REGION = "AWS_REGION"
AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
DP_RAW_BUCKET = "DP_RAW_BUCKET"
DP_CURATED_BUCKET = "DP_CURATED_BUCKET"
DP_ARTIFACTS_BUCKET = "DP_ARTIFACTS_BUCKET"
DP_EVENT_BUS = "DP_EVENT_BUS"
DP_KAFKA_BOOTSTRAP = "DP_KAFKA_BOOTSTRAP"
DP_INGEST_STATE_TABLE = "DP_INGEST_STATE_TABLE"
DP_SECRET_PREFIX = "DP_SECRET_PREFIX"
DP_SPARK_APPLICATION_ID = "DP_SPARK_APPLICATION_ID"
DP_SPARK_JOB_ROLE_ARN = "DP_SPARK_JOB_ROLE_ARN"
DP_STREAM_NAME = "DP_STREAM_NAME"
DP_STREAM_TOPICS = "DP_STREAM_TOPICS"  # comma-separated
DP_KAFKA_OPTIONS = "DP_KAFKA_OPTIONS"  # JSON object of Kafka client options (e.g. MSK's TLS)
DP_SPARK_JARS_DIR = "DP_SPARK_JARS_DIR"  # local Spark only: the Iceberg runtime and Kafka source jars
# snapshot_export: which databases' automated snapshots are exported, and how.
DP_EXPORT_SOURCES = "DP_EXPORT_SOURCES"  # comma-separated DB instance or cluster identifiers
DP_EXPORT_ONLY = "DP_EXPORT_ONLY"  # comma-separated StartExportTask ExportOnly entries; empty: everything
DP_EXPORT_ROLE_ARN = "DP_EXPORT_ROLE_ARN"
DP_EXPORT_KMS_KEY = "DP_EXPORT_KMS_KEY"
DP_EXPORT_STUCK_HOURS = "DP_EXPORT_STUCK_HOURS"  # an export running longer than this is stuck
# api_ingest's source definitions (*.yaml) where a runner does not keep them beside its code: the Batch
# image sets it to its copy; the local stack to the checkout's functions/api_ingest/sources.
DP_API_SOURCES = "DP_API_SOURCES"
# The warehouse: the admin secret the loader runs as (Data API SecretArn; locally also host and port),
# the BI user's secret, Redshift Serverless workgroup or provisioned cluster, database, and COPY's role.
DP_WAREHOUSE_SECRET = "DP_WAREHOUSE_SECRET"
DP_WAREHOUSE_BI_SECRET = "DP_WAREHOUSE_BI_SECRET"
DP_WAREHOUSE_WORKGROUP = "DP_WAREHOUSE_WORKGROUP"
DP_WAREHOUSE_CLUSTER = "DP_WAREHOUSE_CLUSTER"
DP_WAREHOUSE_DATABASE = "DP_WAREHOUSE_DATABASE"
DP_WAREHOUSE_COPY_ROLE_ARN = "DP_WAREHOUSE_COPY_ROLE_ARN"
DP_WAREHOUSE_SPECTRUM_ROLE_ARN = "DP_WAREHOUSE_SPECTRUM_ROLE_ARN"
# Variables a source definition may name as `${DP_SOURCE_...}` (its base URL, per stage).
SOURCE_ENV_PREFIX = "DP_SOURCE_"

DEFAULT_REGION = "us-east-1"
DEFAULT_EXPORT_STUCK_HOURS = 12.0
# moto accepts any credentials; these only keep SDKs from searching for real ones.
LOCAL_CREDENTIALS = {AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing"}


class Profile(StrEnum):
    """Which adapters to use: real AWS, or the local stack on loopback."""

    AWS = "aws"
    LOCAL = "local"


class SettingsError(ValueError):
    """The configuration is incomplete or contradictory."""


@dataclass(frozen=True)
class LocalAws:
    """How every client reaches the local AWS (moto server): its endpoint and dummy credentials."""

    endpoint_url: str
    access_key_id: str = LOCAL_CREDENTIALS[AWS_ACCESS_KEY_ID]
    secret_access_key: str = LOCAL_CREDENTIALS[AWS_SECRET_ACCESS_KEY]


@dataclass(frozen=True)
class Settings:
    profile: Profile = Profile.AWS
    region: str = DEFAULT_REGION
    stage: str = "dev"
    endpoint_url: str | None = None
    raw_bucket: str | None = None
    curated_bucket: str | None = None
    artifacts_bucket: str | None = None
    event_bus: str | None = None
    kafka_bootstrap: str | None = None
    ingest_state_table: str | None = None
    secret_prefix: str | None = None
    spark_application_id: str | None = None
    spark_job_role_arn: str | None = None
    stream_name: str | None = None
    stream_topics: tuple[str, ...] = ()
    spark_jars_dir: str | None = None
    export_sources: tuple[str, ...] = ()
    export_only: tuple[str, ...] = ()
    export_role_arn: str | None = None
    export_kms_key: str | None = None
    export_stuck_hours: float = DEFAULT_EXPORT_STUCK_HOURS
    api_sources: str | None = None
    warehouse_secret: str | None = None
    warehouse_bi_secret: str | None = None
    warehouse_workgroup: str | None = None
    warehouse_cluster: str | None = None
    warehouse_database: str = "warehouse"
    warehouse_copy_role_arn: str | None = None
    warehouse_spectrum_role_arn: str | None = None
    kafka_options: Mapping[str, str] = field(default_factory=dict)
    source_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.profile is Profile.LOCAL

    def local_aws(self) -> LocalAws | None:
        """The local AWS on the local profile (None in AWS): the one place clients learn where it is."""
        return LocalAws(self.require("endpoint_url")) if self.is_local else None

    def require(self, name: str) -> str:
        """The value of a setting that this caller cannot do without."""
        value = getattr(self, name)
        if not value:
            raise SettingsError(f"setting {name!r} is not configured (profile {self.profile.value})")
        return str(value)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy in which every override that is not None wins."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def resolve_choice(
    explicit: str | None, env: Mapping[str, str], name: str, default: str | None = None
) -> str | None:
    """Explicit argument, else the environment variable `name`, else the default."""
    if explicit is not None:
        return explicit
    return env.get(name) or default


def parse_profile(value: str | None) -> Profile:
    try:
        return Profile((value or Profile.AWS.value).lower())
    except ValueError:
        allowed = ", ".join(p.value for p in Profile)
        raise SettingsError(f"{DP_PROFILE}={value!r} is not one of: {allowed}") from None


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def _hours(text: str | None, name: str, default: float) -> float:
    try:
        value = float(text) if text else default
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number of hours") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, not {value:g}")
    return value


def _json_object(text: str | None, name: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise SettingsError(f"{name} is not JSON: {text!r}") from None
    if not isinstance(value, dict):
        raise SettingsError(f"{name} must be a JSON object")
    return {str(k): str(v) for k, v in value.items()}


def load_settings(env: Mapping[str, str] | None = None, **explicit: Any) -> Settings:
    """Settings from the environment, with explicit keyword arguments winning."""
    env = os.environ if env is None else env
    profile = parse_profile(resolve_choice(explicit.pop("profile", None), env, DP_PROFILE))
    endpoint = resolve_choice(explicit.pop("endpoint_url", None), env, AWS_ENDPOINT_URL)
    if profile is Profile.LOCAL and not endpoint:
        raise SettingsError(f"profile local needs {AWS_ENDPOINT_URL} (start the stack with `dp stack up`)")
    base = Settings(
        profile=profile,
        region=resolve_choice(None, env, AWS_REGION) or env.get(AWS_DEFAULT_REGION) or DEFAULT_REGION,
        stage=resolve_choice(None, env, DP_STAGE, "dev") or "dev",
        endpoint_url=endpoint,
        raw_bucket=env.get(DP_RAW_BUCKET),
        curated_bucket=env.get(DP_CURATED_BUCKET),
        artifacts_bucket=env.get(DP_ARTIFACTS_BUCKET),
        event_bus=env.get(DP_EVENT_BUS),
        kafka_bootstrap=env.get(DP_KAFKA_BOOTSTRAP),
        ingest_state_table=env.get(DP_INGEST_STATE_TABLE),
        secret_prefix=env.get(DP_SECRET_PREFIX),
        spark_application_id=env.get(DP_SPARK_APPLICATION_ID),
        spark_job_role_arn=env.get(DP_SPARK_JOB_ROLE_ARN),
        stream_name=env.get(DP_STREAM_NAME),
        stream_topics=tuple(t for t in env.get(DP_STREAM_TOPICS, "").split(",") if t),
        spark_jars_dir=env.get(DP_SPARK_JARS_DIR),
        export_sources=_csv(env.get(DP_EXPORT_SOURCES)),
        export_only=_csv(env.get(DP_EXPORT_ONLY)),
        export_role_arn=env.get(DP_EXPORT_ROLE_ARN),
        export_kms_key=env.get(DP_EXPORT_KMS_KEY),
        export_stuck_hours=_hours(
            env.get(DP_EXPORT_STUCK_HOURS), DP_EXPORT_STUCK_HOURS, DEFAULT_EXPORT_STUCK_HOURS
        ),
        api_sources=env.get(DP_API_SOURCES),
        warehouse_secret=env.get(DP_WAREHOUSE_SECRET),
        warehouse_bi_secret=env.get(DP_WAREHOUSE_BI_SECRET),
        warehouse_workgroup=env.get(DP_WAREHOUSE_WORKGROUP),
        warehouse_cluster=env.get(DP_WAREHOUSE_CLUSTER),
        warehouse_database=env.get(DP_WAREHOUSE_DATABASE) or "warehouse",
        warehouse_copy_role_arn=env.get(DP_WAREHOUSE_COPY_ROLE_ARN),
        warehouse_spectrum_role_arn=env.get(DP_WAREHOUSE_SPECTRUM_ROLE_ARN),
        kafka_options=_json_object(env.get(DP_KAFKA_OPTIONS), DP_KAFKA_OPTIONS),
        source_env={k: v for k, v in env.items() if k.startswith(SOURCE_ENV_PREFIX)},
    )
    return base.with_overrides(**explicit)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `load_settings()` in another process return these settings."""
    env = {
        DP_PROFILE: settings.profile.value,
        AWS_REGION: settings.region,
        AWS_DEFAULT_REGION: settings.region,
    }
    env[DP_STAGE] = settings.stage
    optional = {
        AWS_ENDPOINT_URL: settings.endpoint_url,
        DP_RAW_BUCKET: settings.raw_bucket,
        DP_CURATED_BUCKET: settings.curated_bucket,
        DP_ARTIFACTS_BUCKET: settings.artifacts_bucket,
        DP_EVENT_BUS: settings.event_bus,
        DP_KAFKA_BOOTSTRAP: settings.kafka_bootstrap,
        DP_INGEST_STATE_TABLE: settings.ingest_state_table,
        DP_SECRET_PREFIX: settings.secret_prefix,
        DP_SPARK_APPLICATION_ID: settings.spark_application_id,
        DP_SPARK_JOB_ROLE_ARN: settings.spark_job_role_arn,
        DP_STREAM_NAME: settings.stream_name,
        DP_STREAM_TOPICS: ",".join(settings.stream_topics),
        DP_SPARK_JARS_DIR: settings.spark_jars_dir,
        DP_EXPORT_SOURCES: ",".join(settings.export_sources),
        DP_EXPORT_ONLY: ",".join(settings.export_only),
        DP_EXPORT_ROLE_ARN: settings.export_role_arn,
        DP_EXPORT_KMS_KEY: settings.export_kms_key,
        DP_EXPORT_STUCK_HOURS: f"{settings.export_stuck_hours:g}",
        DP_API_SOURCES: settings.api_sources,
        DP_WAREHOUSE_SECRET: settings.warehouse_secret,
        DP_WAREHOUSE_BI_SECRET: settings.warehouse_bi_secret,
        DP_WAREHOUSE_WORKGROUP: settings.warehouse_workgroup,
        DP_WAREHOUSE_CLUSTER: settings.warehouse_cluster,
        DP_WAREHOUSE_DATABASE: settings.warehouse_database,
        DP_WAREHOUSE_COPY_ROLE_ARN: settings.warehouse_copy_role_arn,
        DP_WAREHOUSE_SPECTRUM_ROLE_ARN: settings.warehouse_spectrum_role_arn,
        DP_KAFKA_OPTIONS: json.dumps(dict(settings.kafka_options)) if settings.kafka_options else None,
    }
    env.update({k: v for k, v in optional.items() if v})
    env.update(settings.source_env)
    if settings.is_local:
        env.update(LOCAL_CREDENTIALS)
    return env
