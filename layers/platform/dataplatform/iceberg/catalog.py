"""The Iceberg catalog: Glue, in AWS or on the local AWS, with the same properties Spark gets."""

from __future__ import annotations

from pyiceberg.catalog import Catalog, load_catalog

from dataplatform.settings import Settings

CATALOG_NAME = "glue"


def catalog_properties(settings: Settings) -> dict[str, str]:
    """pyiceberg properties for the Glue catalog and S3 FileIO of this profile."""
    props = {"type": "glue", "glue.region": settings.region, "s3.region": settings.region}
    local = settings.local_aws()
    if local:
        for service in ("glue", "s3"):
            props[f"{service}.endpoint"] = local.endpoint_url
            props[f"{service}.access-key-id"] = local.access_key_id
            props[f"{service}.secret-access-key"] = local.secret_access_key
        props["s3.path-style-access"] = "true"
    return props


def glue_catalog(settings: Settings) -> Catalog:
    return load_catalog(CATALOG_NAME, **catalog_properties(settings))
