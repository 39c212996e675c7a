"""boto3 clients for the configured profile: real AWS, or moto server through its endpoint."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from dataplatform.settings import Settings

# Enough pooled connections for the parallel readers (snapshot_catalog reads 32 footers at once).
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=64)
_LOCK = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    """One session per process: its clients share the loaded service models (a session per client
    cost ~10 MB each, which a Lambda's memory feels)."""
    return boto3.session.Session()


def client(service: str, settings: Settings) -> Any:
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
