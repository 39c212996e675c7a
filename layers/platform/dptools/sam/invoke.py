"""Run a Lambda handler in this process, as the Lambda runtime would, without Docker."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from dptools.sam.functions import FunctionSpec
from dptools.sam.template import TemplateError


class EventFileError(ValueError):
    """The event file is missing or is not a JSON object."""


class EventMismatchError(ValueError):
    """The event does not match the model the handler parses it with."""


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def read_event(path: Path) -> dict[str, Any]:
    try:
        event = json.loads(path.read_text())
    except OSError as exc:
        raise EventFileError(f"cannot read event file {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise EventFileError(f"event file {path} is not valid JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise EventFileError(f"event file {path} must hold a JSON object, not {type(event).__name__}")
    return event


_env_lock = threading.RLock()


@contextmanager
def _patched_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set `env` for the duration of one invocation; invocations in one process run one at a time."""
    with _env_lock:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _load_module(spec: FunctionSpec) -> ModuleType:
    module_name, _ = spec.module_and_function
    path = spec.code_dir / (module_name.replace(".", "/") + ".py")
    if not path.is_file():
        raise TemplateError(f"{spec.logical_id}: handler module {path} does not exist")
    qualified = f"_dp_function_{spec.logical_id}_{abs(hash(str(path))):x}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    if str(spec.code_dir) not in sys.path:
        sys.path.insert(0, str(spec.code_dir))
    loader_spec = importlib.util.spec_from_file_location(qualified, path)
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[qualified] = module
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[qualified]
        raise
    return module


def invoke_function(
    spec: FunctionSpec,
    event: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    function_name: str | None = None,
    account_id: str = "123456789012",
    region: str = "us-east-1",
) -> Any:
    """Import the handler (once per process) and call it with `event` and a Lambda context.

    `env` is the function's resolved environment; the module is imported inside it too, so that
    module-level powertools objects see the function's service name.
    """
    name = function_name or spec.logical_id
    runtime_env = {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **env,
    }
    with _patched_environment(runtime_env):
        handler: Callable[[Any, Any], Any] = getattr(_load_module(spec), spec.module_and_function[1])
        context = LambdaContext(
            function_name=name,
            memory_limit_in_mb=spec.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{region}:{account_id}:function:{name}",
            timeout_s=spec.timeout_s,
        )
        try:
            return handler(dict(event), context)
        except Exception as exc:
            if _is_validation_error(exc):
                raise EventMismatchError(f"the event does not match {name}'s model: {exc}") from exc
            raise


def _is_validation_error(exc: BaseException) -> bool:
    """pydantic's ValidationError, raised directly or wrapped by powertools' parser."""
    from pydantic import ValidationError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ValidationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
