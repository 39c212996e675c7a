"""A real Trino server (Athena's engine) over the local stack's Glue catalog and S3.

`make setup` unpacks Trino from Maven Central into `.local/trino/server` (lib, bin and the Iceberg plugin
only) and writes the Java 25 JDK's path beside it. Each stack writes its own configuration and data
folder under its run folder. The Glue catalog is named `awsdatacatalog`, as Athena names it, so the same
SQL (qualified or not) runs on both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import requests

from dataplatform.settings import Settings
from dptools.local.paths import project_root
from dptools.local.processes import StackError

CATALOG = "awsdatacatalog"
DP_TRINO_SERVER = "DP_TRINO_SERVER"  # another unpacked server than the checkout's .local/trino/server
# Sized for a 2-core, 24 GiB machine shared with Spark and Kafka: ~1.3 GiB resident when idle.
HEAP = "3G"
QUERY_MEMORY = "1GB"


def installed_server() -> Path:
    """Where `make setup` unpacked the server (or `$DP_TRINO_SERVER`)."""
    override = os.environ.get(DP_TRINO_SERVER)
    return Path(override) if override else project_root() / ".local" / "trino" / "server"


@dataclass(frozen=True)
class TrinoServer:
    server_dir: Path
    work_dir: Path
    port: int
    settings: Settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def etc_dir(self) -> Path:
        return self.work_dir / "etc"

    def java_home(self) -> Path:
        """The Java 25 JDK that `make setup` found, checked before anything starts."""
        if not (self.server_dir / "bin" / "launcher").is_file():
            raise StackError(f"no Trino server in {self.server_dir}: run `make setup`")
        try:
            home = Path((self.server_dir / "java-home").read_text().strip())
        except OSError:
            raise StackError(f"{self.server_dir}/java-home is missing: run `make setup`") from None
        if not (home / "bin" / "java").is_file():
            raise StackError(f"Trino needs a Java 25 JDK, and {home} has none: install Temurin 25")
        return home

    def catalog_properties(self) -> dict[str, str]:
        """The Iceberg connector on the local Glue and S3 (moto), as Athena's is on AWS's."""
        local = self.settings.local_aws()
        if local is None:
            raise StackError("the local Trino serves the local profile only")
        region = self.settings.region
        warehouse = f"s3://{self.settings.require('curated_bucket')}/iceberg"
        return {
            "connector.name": "iceberg",
            "iceberg.catalog.type": "glue",
            "hive.metastore.glue.region": region,
            "hive.metastore.glue.endpoint-url": local.endpoint_url,
            "hive.metastore.glue.aws-access-key": local.access_key_id,
            "hive.metastore.glue.aws-secret-key": local.secret_access_key,
            "hive.metastore.glue.default-warehouse-dir": warehouse,
            "fs.native-s3.enabled": "true",
            "s3.endpoint": local.endpoint_url,
            "s3.region": region,
            "s3.path-style-access": "true",
            "s3.aws-access-key": local.access_key_id,
            "s3.aws-secret-key": local.secret_access_key,
        }

    def server_properties(self) -> dict[str, str]:
        return {
            "coordinator": "true",
            "node-scheduler.include-coordinator": "true",
            "http-server.http.port": str(self.port),
            "discovery.uri": self.url,
            "query.max-memory": QUERY_MEMORY,
            "query.max-memory-per-node": QUERY_MEMORY,
        }

    def node_properties(self) -> dict[str, str]:
        # Without internal-address, Trino announces itself on the machine's outside address.
        return {
            "node.environment": "local",
            "node.id": "dp-local",
            "node.data-dir": str(self.work_dir / "data"),
            "node.internal-address": "127.0.0.1",
        }

    def jvm_options(self) -> list[str]:
        return [
            "-server",
            f"-Xmx{HEAP}",
            "-XX:+UseG1GC",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:+EnableDynamicAgentLoading",
            "-Djdk.attach.allowAttachSelf=true",
            "-Dfile.encoding=UTF-8",
        ]

    def write_config(self) -> None:
        catalogs = self.etc_dir / "catalog"
        catalogs.mkdir(parents=True, exist_ok=True)
        files = {
            self.etc_dir / "config.properties": self.server_properties(),
            self.etc_dir / "node.properties": self.node_properties(),
            catalogs / f"{CATALOG}.properties": self.catalog_properties(),
        }
        for path, props in files.items():
            path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.etc_dir / "jvm.config").write_text("\n".join(self.jvm_options()) + "\n")

    def command(self) -> list[str]:
        """`launcher run` in the foreground; it execs java, so the pid started is the server's."""
        java_home = self.java_home()
        self.write_config()
        launcher = self.server_dir / "bin" / "launcher"
        return [
            str(launcher),
            "run",
            f"--etc-dir={self.etc_dir}",
            f"--data-dir={self.work_dir / 'data'}",
            f"--jvm-dir={java_home}",
        ]

    def env(self) -> dict[str, str]:
        java_home = self.java_home()
        return {"JAVA_HOME": str(java_home), "PATH": f"{java_home}/bin:{os.environ.get('PATH', '')}"}

    def is_healthy(self) -> bool:
        """Up once the coordinator has loaded its catalogs, says it is no longer starting, and runs a
        query: its worker announces itself a moment after, and until then queries fail with
        NO_NODES_AVAILABLE."""
        info = requests.get(f"{self.url}/v1/info", timeout=2).json()
        if info.get("starting") is not False:
            return False
        headers = {"X-Trino-User": "dp"}
        page = requests.post(f"{self.url}/v1/statement", data="SELECT 1", headers=headers, timeout=5).json()
        while "error" not in page and page.get("nextUri"):
            page = requests.get(page["nextUri"], headers=headers, timeout=5).json()
        return "error" not in page
