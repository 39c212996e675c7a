"""boto3 clients for the configured profile: real AWS, or moto server through its endpoint."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from dataplatform.settings import Settings

if TYPE_CHECKING:  # the mypy-boto3 stubs are dev-only: the Lambda layer does not ship them
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_emr_serverless import EMRServerlessClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

# Enough pooled connections for the parallel readers (snapshot_catalog reads 32 footers at once).
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=64)
_LOCK = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    """One session per process: its clients share the loaded service models (a session per client
    cost ~10 MB each, which a Lambda's memory feels)."""
    return boto3.session.Session()


@overload
def client(service: Literal["batch"], settings: Settings) -> BatchClient: ...
@overload
def client(service: Literal["cloudformation"], settings: Settings) -> CloudFormationClient: ...
@overload
def client(service: Literal["cloudwatch"], settings: Settings) -> CloudWatchClient: ...
@overload
def client(service: Literal["dynamodb"], settings: Settings) -> DynamoDBClient: ...
@overload
def client(service: Literal["emr-serverless"], settings: Settings) -> EMRServerlessClient: ...
@overload
def client(service: Literal["events"], settings: Settings) -> EventBridgeClient: ...
@overload
def client(service: Literal["glue"], settings: Settings) -> GlueClient: ...
@overload
def client(service: Literal["lambda"], settings: Settings) -> LambdaClient: ...
@overload
def client(service: Literal["rds"], settings: Settings) -> RDSClient: ...
@overload
def client(service: Literal["s3"], settings: Settings) -> S3Client: ...
@overload
def client(service: Literal["secretsmanager"], settings: Settings) -> SecretsManagerClient: ...
@overload
def client(service: Literal["sns"], settings: Settings) -> SNSClient: ...
@overload
def client(service: Literal["sqs"], settings: Settings) -> SQSClient: ...
@overload
def client(service: Literal["stepfunctions"], settings: Settings) -> SFNClient: ...


def client(service: str, settings: Settings) -> BaseClient:
    """A boto3 client for `service`; on the local profile it talks to moto with dummy credentials."""
    kwargs: dict[str, Any] = {"region_name": settings.region, "config": _CONFIG}
    local = settings.local_aws()
    if local:
        kwargs["endpoint_url"] = local.endpoint_url
        kwargs["aws_access_key_id"] = local.access_key_id
        kwargs["aws_secret_access_key"] = local.secret_access_key
    with _LOCK:  # a session is not thread-safe; the clients it makes are
        return _session().client(service, **kwargs)


def forget_session() -> None:
    """Drop the shared session; moto's in-process mock only reaches sessions made after it started."""
    _session.cache_clear()
