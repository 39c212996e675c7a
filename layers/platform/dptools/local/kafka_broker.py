"""A real single-node Apache Kafka broker in KRaft mode, from the jars in .local/jars/kafka."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from dptools.local.processes import StackError

_LOG4J = """\
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=WARN
logger.apache.name=org.apache.kafka
logger.apache.level=WARN
logger.started.name=kafka.server.BrokerServer
logger.started.level=INFO
"""


def java_bin() -> str:
    home = os.environ.get("JAVA_HOME")
    java = Path(home, "bin", "java") if home else shutil.which("java")
    if not java:
        raise StackError("JDK 17 is needed for Kafka and Spark: install openjdk-17-jdk-headless")
    return str(java)


def new_cluster_id() -> str:
    """A KRaft cluster id: a UUID in URL-safe base64. One starting with "-" reads as an option to the
    storage tool (a 1-in-64 failure of a fresh stack), so, as Kafka's own Uuid.randomUuid does, draw again."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class KafkaBroker:
    jars_dir: Path
    data_dir: Path
    config_dir: Path
    port: int
    controller_port: int
    heap: str = "512m"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def classpath(self) -> str:
        if not any(self.jars_dir.glob("kafka_2.13-*.jar")):
            raise StackError(f"no Kafka broker jars in {self.jars_dir}: run `make setup`")
        return f"{self.jars_dir}/*"

    def properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
        }
        return "".join(f"{k}={v}\n" for k, v in settings.items())

    def write_config(self) -> Path:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "log4j2.properties").write_text(_LOG4J)
        config = self.config_dir / "server.properties"
        config.write_text(self.properties())
        return config

    def _java(self, main_class: str, *args: str) -> list[str]:
        log4j = self.config_dir / "log4j2.properties"
        return [
            java_bin(),
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            self.classpath,
            main_class,
            *args,
        ]

    def format_storage_once(self) -> None:
        """Format the KRaft log dir on first use; later starts keep the topics and offsets."""
        if (self.data_dir / "meta.properties").is_file():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = new_cluster_id()
        config = self.write_config()
        result = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def command(self) -> list[str]:
        config = self.write_config()
        return self._java("kafka.Kafka", str(config))

    def is_healthy(self) -> bool:
        from confluent_kafka.admin import AdminClient

        # log_level 0: refused connections while the broker starts are expected, not news.
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 2000, "log_level": 0})
        metadata = admin.list_topics(timeout=2)
        return bool(metadata.brokers)
