"""Where `dp sql` runs a query: the local stack's Trino, or Athena in a deployed stack's workgroup."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from dataplatform.settings import Profile, load_settings
from dataplatform.sql.athena import athena_query
from dataplatform.sql.result import EngineUnavailable, QueryResult
from dptools.local.processes import StackError
from dptools.local.stack import LocalStack
from dptools.local.trino_client import NOT_RUNNING, trino_query
from dptools.sam.deployed import physical_id

SQL_WORKGROUP = "SqlWorkGroup"  # the template's Athena workgroup

RunQuery = Callable[[str], QueryResult]


def local_trino_url(stack: LocalStack | None = None) -> str:
    """The running local Trino's URL, or EngineUnavailable saying how to start it."""
    try:
        url = (stack or LocalStack()).trino_url()
    except StackError:
        url = None
    if url is None:
        raise EngineUnavailable(f"the local Trino is not running: {NOT_RUNNING}")
    return url


def query_runner(profile: Profile, stack_name: str) -> RunQuery:
    """A function running one query on the profile's engine."""
    if profile is Profile.LOCAL:
        return partial(trino_query, local_trino_url())
    settings = load_settings(profile="aws")
    workgroup = physical_id(stack_name, SQL_WORKGROUP, settings)  # a workgroup's physical id is its name
    return partial(athena_query, settings=settings, workgroup=workgroup)
