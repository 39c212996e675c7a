"""The local Trino's configuration: its Iceberg catalog is the stack's Glue and S3 under Athena's catalog
name, and what it cannot start without is named in one line before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplatform.settings import Profile, Settings
from dptools.local.processes import StackError
from dptools.local.trino_server import CATALOG, TrinoServer

LOCAL = Settings(profile=Profile.LOCAL, endpoint_url="http://127.0.0.1:4566", curated_bucket="dp-curated")


def server(tmp_path: Path, settings: Settings = LOCAL, java_home: Path | None = None) -> TrinoServer:
    install = tmp_path / "server"
    (install / "bin").mkdir(parents=True)
    (install / "bin" / "launcher").write_text("#!/bin/sh\n")
    if java_home is not None:
        (install / "java-home").write_text(f"{java_home}\n")
    return TrinoServer(install, tmp_path / "work", 8090, settings)


def test_the_catalog_reads_the_stacks_glue_and_s3_as_athena_names_it(tmp_path: Path) -> None:
    jdk = tmp_path / "jdk"
    (jdk / "bin").mkdir(parents=True)
    (jdk / "bin" / "java").write_text("")
    trino = server(tmp_path, java_home=jdk)
    command = trino.command()
    assert command[:2] == [str(tmp_path / "server/bin/launcher"), "run"]
    assert f"--jvm-dir={jdk}" in command
    catalog = (trino.etc_dir / "catalog" / f"{CATALOG}.properties").read_text().splitlines()
    assert CATALOG == "awsdatacatalog"
    assert {
        "iceberg.catalog.type=glue",
        "hive.metastore.glue.endpoint-url=http://127.0.0.1:4566",
        "s3.endpoint=http://127.0.0.1:4566",
        "s3.path-style-access=true",
        "hive.metastore.glue.default-warehouse-dir=s3://dp-curated/iceberg",
    } <= set(catalog)
    node = (trino.etc_dir / "node.properties").read_text()
    assert "node.internal-address=127.0.0.1" in node
    assert "http-server.http.port=8090" in (trino.etc_dir / "config.properties").read_text()


def test_without_make_setup_or_a_java_25_jdk_it_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"^no Trino server in .*: run `make setup`$"):
        TrinoServer(tmp_path / "absent", tmp_path / "work", 8090, LOCAL).command()
    with pytest.raises(StackError, match=r"java-home is missing: run `make setup`$"):
        server(tmp_path / "a").command()
    with pytest.raises(
        StackError, match=r"^Trino needs a Java 25 JDK, and /no/jdk has none: install Temurin 25$"
    ):
        server(tmp_path / "b", java_home=Path("/no/jdk")).command()


def test_it_serves_the_local_profile_only(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"^the local Trino serves the local profile only$"):
        server(tmp_path, Settings(profile=Profile.AWS)).catalog_properties()
