"""`dp streaming` drives the Kafka -> raw job through one controller, chosen once by profile: a process
of the local stack, or the EMR Serverless job kept alive by the streaming supervisor in AWS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dataplatform.aws import client
from dataplatform.settings import Profile
from dataplatform.streaming.emr import Supervisor, supervisor_from_settings
from dptools.local.stack import LocalStack
from dptools.local.streaming_process import LocalStream

SUPERVISOR_FUNCTION = "StreamingSupervisorFunction"


class StreamController(Protocol):
    """Each method returns what happened, in a line for the terminal."""

    def start(self, topics: Sequence[str], trigger: str) -> str: ...

    def stop(self) -> str: ...

    def status(self) -> dict[str, Any]: ...

    def redeploy(self) -> str: ...


@dataclass
class LocalStreamController:
    """The job as a process of the local stack, with its checkpoint under `.local/streaming/<name>/`."""

    stack: LocalStack
    stream: LocalStream

    def start(self, topics: Sequence[str], trigger: str) -> str:
        if self.stream.process.is_running():
            return f"stream {self.stream.name} already running (pid {self.stream.process.pid()})"
        pid = self.stream.start(self.stack.settings(), topics, trigger=trigger)
        return f"stream {self.stream.name} started (pid {pid}); checkpoint {self.stream.checkpoint}"

    def stop(self) -> str:
        self.stream.stop()
        return f"stream {self.stream.name} stopped"

    def status(self) -> dict[str, Any]:
        return self.stream.status()

    def redeploy(self) -> str:
        topics = list(self.stream.status().get("topics") or [self.stream.name])
        self.stream.stop()
        pid = self.stream.start(self.stack.settings(), topics)
        return f"stream {self.stream.name} redeployed (pid {pid}); checkpoint {self.stream.checkpoint}"


@dataclass
class EmrStreamController:
    """The deployed job on EMR Serverless, through the same supervisor the scheduled Lambda runs; topics
    and trigger are the stack's."""

    name: str
    supervisor: Supervisor

    def start(self, topics: Sequence[str], trigger: str) -> str:
        result = self.supervisor.resume()
        return f"stream {self.name}: {result.action} {result.run_id or ''}".rstrip()

    def stop(self) -> str:
        self.supervisor.pause()
        return f"stream {self.name} stopped; the supervisor leaves it stopped until `start`"

    def status(self) -> dict[str, Any]:
        return self.supervisor.streaming.status()

    def redeploy(self) -> str:
        self.supervisor.pause()
        result = self.supervisor.resume()
        return f"stream {self.name} redeployed: {result.action} {result.run_id or ''}".rstrip()


def stream_controller(profile: Profile, name: str, stack_name: str) -> StreamController:
    if profile is Profile.LOCAL:
        stack = LocalStack()
        stack.endpoint_url()  # StackError, with what to do, when the stack is not up
        return LocalStreamController(stack, LocalStream(stack.paths, name))
    from dptools.functions import deployed_function, project_function

    settings = deployed_function(project_function(SUPERVISOR_FUNCTION), stack_name).settings
    supervisor = supervisor_from_settings(
        settings, client("s3", settings), client("emr-serverless", settings), client("dynamodb", settings)
    )
    return EmrStreamController(name, supervisor)
