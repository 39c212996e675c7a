"""Integration fixtures: the run's one Spark session, with the local stack's Iceberg Glue catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataplatform.settings import Settings
from dataplatform.spark.session import attach_catalog

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark(spark: SparkSession, stack_settings: Settings) -> SparkSession:
    """The plain session of tests/conftest.py, with the local stack's catalog as its default."""
    return attach_catalog(spark, stack_settings)
