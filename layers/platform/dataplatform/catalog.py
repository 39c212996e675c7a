"""The Iceberg catalog: Glue, in AWS or on the local AWS, with the same properties Spark gets."""

from __future__ import annotations

from pyiceberg.catalog import Catalog, load_catalog

from dataplatform.settings import LOCAL_CREDENTIALS, Settings

CATALOG_NAME = "glue"


def catalog_properties(settings: Settings) -> dict[str, str]:
    """pyiceberg properties for the Glue catalog and S3 FileIO of this profile."""
    props = {"type": "glue", "glue.region": settings.region, "s3.region": settings.region}
    if settings.is_local:
        endpoint = settings.require("endpoint_url")
        key, secret = LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        props.update(
            {
                "glue.endpoint": endpoint,
                "glue.access-key-id": key,
                "glue.secret-access-key": secret,
                "s3.endpoint": endpoint,
                "s3.access-key-id": key,
                "s3.secret-access-key": secret,
                "s3.path-style-access": "true",
            }
        )
    return props


def glue_catalog(settings: Settings) -> Catalog:
    return load_catalog(CATALOG_NAME, **catalog_properties(settings))
