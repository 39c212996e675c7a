"""The sample reviews API as a part of the local stack, and the secret the `reviews` source reads."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from dptools.local.deployment import LocalDeployment
from dptools.samples.reviews_api import ReviewsApiConfig

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# functions/api_ingest/sources/reviews.yaml reads its base URL from this variable.
URL_ENV = "DP_SOURCE_REVIEWS_URL"
SECRET_NAME = "sources/reviews"  # the definition's auth.secret, under the stack's secret prefix
# A lake's worth of reviews for the demo: a few weeks of the change log at one entry a minute.
LOCAL_TOTAL = 50_000


def command(port: int, config: ReviewsApiConfig | None = None) -> list[str]:
    config = config or ReviewsApiConfig(total=LOCAL_TOTAL)
    return [
        sys.executable,
        "-m",
        "dptools.samples.reviews_api",
        "--port",
        str(port),
        "--total",
        str(config.total),
        "--client-id",
        config.client_id,
        "--client-secret",
        config.client_secret,
        "--api-key",
        config.api_key,
    ]


def store_local_credentials(
    secrets_client: SecretsManagerClient, deployment: LocalDeployment, config: ReviewsApiConfig | None = None
) -> bool:
    """Put the sample API's client credentials where the source definition looks for them, if the
    template declares that secret; True if it did."""
    secret_id = f"{deployment.stack_name}/{SECRET_NAME}"
    declared = {deployment.physical_name(r) for r in deployment.of_type("AWS::SecretsManager::Secret")}
    if secret_id not in declared:
        return False
    config = config or ReviewsApiConfig()
    value = json.dumps({"client_id": config.client_id, "client_secret": config.client_secret})
    secrets_client.put_secret_value(SecretId=secret_id, SecretString=value)
    return True
