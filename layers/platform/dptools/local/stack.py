"""`dp stack up|down|status`: the local AWS, the Kafka broker, the sample API, the warehouse
(PostgreSQL) and the event dispatcher.

Ports are picked free on 127.0.0.1 and kept in `stack.json`, which is also how other processes find the
stack. State that must outlive `down` lives beside it: the moto pickle, Kafka's log dir and the
warehouse's data folder.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import requests

from dataplatform.aws import client
from dataplatform.settings import Profile, Settings, settings_env
from dataplatform.warehouse.service import prepare as prepare_warehouse
from dptools.local import aws_server, sample_api, warehouse_server
from dptools.local.deployment import LocalDeployment
from dptools.local.emr_serverless_jobs import write_job_env
from dptools.local.kafka_broker import KafkaBroker
from dptools.local.paths import LocalPaths, api_sources_dir, project_root
from dptools.local.processes import ManagedProcess, StackError, free_port
from dptools.local.provision import FunctionWiring, provision_resources, wire_functions
from dptools.local.trino_server import TrinoServer, installed_server

AWS, KAFKA, API, DISPATCHER = "aws", "kafka", "api", "dispatcher"
TRINO = "trino"  # only with `up(trino=True)`: `dp stack up --with trino`
WAREHOUSE = "warehouse"  # PostgreSQL, the local Redshift
PARTS = (AWS, KAFKA, API, DISPATCHER, TRINO, WAREHOUSE)
START_TIMEOUT_S = {AWS: 30.0, KAFKA: 90.0, API: 30.0, DISPATCHER: 30.0, TRINO: 240.0, WAREHOUSE: 60.0}
PORTS = {
    "aws_port": AWS,
    "kafka_port": KAFKA,
    "kafka_controller_port": KAFKA,
    "api_port": API,
    "trino_port": TRINO,
    "warehouse_port": WAREHOUSE,
}
Progress = Callable[[str], None]


PartState = Literal["running", "stopped", "crashed"]


@dataclass(frozen=True)
class PartStatus:
    name: str
    state: PartState
    pid: int | None
    detail: str = ""


class LocalStack:
    def __init__(self, paths: LocalPaths | None = None, template: Path | None = None) -> None:
        self.paths = paths or LocalPaths.default()
        self.template = template or project_root() / "template.yaml"
        self.parts = {name: ManagedProcess(name, self.paths.run) for name in PARTS}
        self.parts[WAREHOUSE] = warehouse_server.process(self.paths.run)

    # ------------------------------------------------------------------ state
    @property
    def state_file(self) -> Path:
        return self.paths.run / "stack.json"

    @property
    def wiring_file(self) -> Path:
        return self.paths.run / "wiring.json"

    def _state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict[str, Any]) -> None:
        self.paths.run.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2))

    def endpoint_url(self) -> str:
        port = self._state().get("aws_port")
        if port is None:
            raise StackError("the local stack is not up: run `dp stack up`")
        return f"http://127.0.0.1:{port}"

    def kafka_bootstrap(self) -> str | None:
        port = self._state().get("kafka_port")
        return f"127.0.0.1:{port}" if port else None

    def api_url(self) -> str | None:
        """The sample reviews API (dptools.samples.reviews_api) the `reviews` source pulls locally."""
        port = self._state().get("api_port")
        return f"http://127.0.0.1:{port}" if port else None

    def trino_url(self) -> str | None:
        """The local Trino server, when `dp stack up --with trino` started it."""
        return self.trino().url if self.parts[TRINO].is_running() else None

    def trino(self) -> TrinoServer:
        state = self._state()
        if "trino_port" not in state:
            raise StackError("the local stack is not up: run `dp stack up --with trino`")
        return TrinoServer(installed_server(), self.paths.run / TRINO, state["trino_port"], self.settings())

    def source_env(self) -> dict[str, str]:
        """Where the API sources' definitions find their servers on this stack."""
        url = self.api_url()
        return {sample_api.URL_ENV: url} if url else {}

    def deployment(self) -> LocalDeployment:
        return LocalDeployment(self.template, self.endpoint_url())

    def settings(self) -> Settings:
        """Settings of the local profile, pointing at this stack and the template's local names."""
        deployment = self.deployment()

        def ref(logical_id: str) -> str | None:
            return deployment.ref(logical_id) if logical_id in deployment.resources else None

        return Settings(
            profile=Profile.LOCAL,
            endpoint_url=self.endpoint_url(),
            raw_bucket=ref("RawBucket"),
            curated_bucket=ref("CuratedBucket"),
            artifacts_bucket=ref("ArtifactsBucket"),
            event_bus=ref("PlatformBus"),
            kafka_bootstrap=self.kafka_bootstrap(),
            ingest_state_table=ref("IngestStateTable"),
            secret_prefix=f"{deployment.stack_name}/",
            source_env=self.source_env(),
            api_sources=str(api_sources_dir()),
            warehouse_secret=ref(warehouse_server.ADMIN_SECRET),
            warehouse_bi_secret=ref(warehouse_server.BI_SECRET),
            spark_jars_dir=str(self.paths.jars / "spark"),
        )

    def wirings(self) -> list[FunctionWiring]:
        try:
            return [FunctionWiring.from_json(w) for w in json.loads(self.wiring_file.read_text())]
        except OSError:
            return []

    def kafka(self, state: dict[str, Any] | None = None) -> KafkaBroker:
        state = state or self._state()
        return KafkaBroker(
            jars_dir=self.paths.jars / "kafka",
            data_dir=self.paths.kafka_data,
            config_dir=self.paths.run / "kafka",
            port=state["kafka_port"],
            controller_port=state["kafka_controller_port"],
        )

    # ------------------------------------------------------------------ up
    def up(
        self, schedules: bool = False, progress: Progress = lambda _: None, trino: bool = False
    ) -> Settings:
        """Start every part that is not running, then converge the local AWS onto the template; Trino
        too with `trino`."""
        previous = self._state()
        state: dict[str, Any] = {"schedules": schedules}
        for key, part in PORTS.items():
            state[key] = previous.get(key) if self.parts[part].is_running() else free_port(previous.get(key))
        self._save_state(state)
        self._start_aws(progress)
        self._start_kafka(state, progress)
        self._start_api(state, progress)
        settings = self.settings()
        progress("provisioning the template's resources on the local AWS")
        deployment = self.deployment()
        provision_resources(deployment, settings)
        write_job_env(self.paths.aws_state, settings)
        sample_api.store_local_credentials(client("secretsmanager", settings), deployment)
        self._start_warehouse(state, settings, progress)
        wirings = wire_functions(deployment, settings)
        self.wiring_file.write_text(json.dumps([w.to_json() for w in wirings], indent=2))
        self._start_dispatcher(settings, schedules, progress)
        if trino:
            self.start_trino(progress)
        return settings

    def _start_aws(self, progress: Progress) -> None:
        part = self.parts[AWS]
        if part.is_running():
            progress("local AWS (moto) already running")
            return
        progress("starting the local AWS (moto server)")
        port = self._state()["aws_port"]
        part.start(aws_server.command(port, self.paths.aws_state))
        settings = Settings(profile=Profile.LOCAL, endpoint_url=f"http://127.0.0.1:{port}")
        part.wait_healthy(
            lambda: bool(client("s3", settings).list_buckets() is not None), START_TIMEOUT_S[AWS]
        )

    def _start_kafka(self, state: dict[str, Any], progress: Progress) -> None:
        part = self.parts[KAFKA]
        if part.is_running():
            progress("Kafka broker already running")
            return
        progress("starting the Kafka broker (KRaft)")
        broker = self.kafka(state)
        broker.format_storage_once()
        part.start(broker.command())
        part.wait_healthy(broker.is_healthy, START_TIMEOUT_S[KAFKA])

    def _start_api(self, state: dict[str, Any], progress: Progress) -> None:
        part = self.parts[API]
        if part.is_running():
            progress("sample reviews API already running")
            return
        progress("starting the sample reviews API")
        part.start(sample_api.command(state["api_port"]))
        url = f"http://127.0.0.1:{state['api_port']}/health"
        part.wait_healthy(lambda: requests.get(url, timeout=2).ok, START_TIMEOUT_S[API])

    def _start_warehouse(self, state: dict[str, Any], settings: Settings, progress: Progress) -> None:
        """PostgreSQL, once the template's warehouse secrets exist: they get the server's address, and
        the admin user the admin secret's password. A template without them has no warehouse."""
        if not (settings.warehouse_secret and settings.warehouse_bi_secret):
            return
        part, secrets = self.parts[WAREHOUSE], client("secretsmanager", settings)
        port = state["warehouse_port"]
        admin = warehouse_server.store_connection(secrets, settings.warehouse_secret, port)
        warehouse_server.store_connection(secrets, settings.warehouse_bi_secret, port)
        server = warehouse_server.WarehouseServer(self.paths.warehouse, port, admin["username"])
        if part.is_running():
            progress("warehouse (PostgreSQL) already running")
        else:
            progress("starting the warehouse (PostgreSQL)")
            server.prepare()
            part.start(server.command())
            part.wait_healthy(server.is_healthy, START_TIMEOUT_S[WAREHOUSE])
        server.converge(admin["password"])
        for migration in prepare_warehouse(settings):
            progress(f"warehouse migration {migration.path.name} applied")

    def _start_dispatcher(self, settings: Settings, schedules: bool, progress: Progress) -> None:
        part = self.parts[DISPATCHER]
        part.stop()  # the wiring may have changed: always restart it
        progress(f"starting the event dispatcher (schedules {'on' if schedules else 'off'})")
        cmd = [sys.executable, "-m", "dptools.local.dispatcher", "--template", str(self.template)]
        cmd += ["--wiring", str(self.wiring_file)] + (["--schedules"] if schedules else [])
        part.start(cmd, env=settings_env(settings))
        part.wait_healthy(lambda: "dispatching" in part.log_tail(5), START_TIMEOUT_S[DISPATCHER])

    def start_trino(self, progress: Progress = lambda _: None, wait: bool = True) -> str:
        """Start Trino on the running stack (it reads the stack's Glue and S3) unless it runs, and wait
        until it answers; `wait=False` leaves it starting while the caller does other work. Its URL."""
        part, server = self.parts[TRINO], self.trino()
        if part.is_running():
            progress(f"Trino running at {server.url}")
        else:
            progress(f"starting Trino at {server.url} (about 30 s)")
            part.start(server.command(), env=server.env())
        if wait:
            part.wait_healthy(server.is_healthy, START_TIMEOUT_S[TRINO])
        return server.url

    # ------------------------------------------------------------------ down
    def down(self, progress: Progress = lambda _: None) -> None:
        """Stop every part (the dispatcher first, moto last so it can save its state)."""
        for name in reversed(PARTS):
            if self.parts[name].pid() is not None:
                progress(f"stopping {name}")
            self.parts[name].stop()

    # ------------------------------------------------------------------ status
    def status(self) -> list[PartStatus]:
        statuses = []
        for name, part in self.parts.items():
            if part.is_running():
                statuses.append(PartStatus(name, "running", part.pid(), self._describe(name)))
            elif part.has_crashed():
                statuses.append(PartStatus(name, "crashed", part.pid(), part.log_tail(10)))
            elif name != TRINO:  # an optional part shows once started
                statuses.append(PartStatus(name, "stopped", None))
        return statuses

    def _describe(self, name: str) -> str:
        state = self._state()
        if name == AWS:
            return f"http://127.0.0.1:{state.get('aws_port')}"
        if name == KAFKA:
            return f"127.0.0.1:{state.get('kafka_port')}"
        if name == API:
            return f"http://127.0.0.1:{state.get('api_port')}"
        if name == TRINO:
            return f"http://127.0.0.1:{state.get('trino_port')} (catalog awsdatacatalog)"
        if name == WAREHOUSE:
            return f"postgresql://127.0.0.1:{state.get('warehouse_port')}/{warehouse_server.DATABASE}"
        return f"{len(self.wirings())} function(s), schedules {'on' if state.get('schedules') else 'off'}"

    def dead_letters(self) -> dict[str, int]:
        """Messages waiting in each function's dead-letter queue."""
        if not self.parts[AWS].is_running():
            return {}
        sqs = client("sqs", self.settings())
        counts = {}
        for wiring in self.wirings():
            attrs = sqs.get_queue_attributes(
                QueueUrl=wiring.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            counts[wiring.function] = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
        return counts
