"""The project's container images as the local stack runs them: processes of this checkout and venv.

There is no Docker here, so an image is known by its Dockerfile: its ENTRYPOINT, run with this venv's
Python, is what a job definition's command follows. A job definition on the local AWS names its image as
`local:<Dockerfile path>` (relative to the project), which is where the executor finds the entry point.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from dptools.local.paths import project_root

LOCAL_IMAGE_PREFIX = "local:"


class DockerfileError(ValueError):
    """A Dockerfile the local stack cannot read the way it needs to."""


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    instructions: tuple[tuple[str, str], ...]  # (INSTRUCTION, its arguments), continuations joined

    @classmethod
    def read(cls, path: Path) -> Dockerfile:
        try:
            text = path.read_text()
        except OSError as exc:
            raise DockerfileError(f"cannot read {path}: {exc.strerror}") from exc
        instructions, pending = [], ""
        for raw in text.splitlines():
            line = raw.strip()
            if not pending and (not line or line.startswith("#")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            keyword, _, arguments = (pending + line).strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            pending = ""
        return cls(path, tuple(instructions))

    def arguments(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def base_image(self) -> str:
        """The image of the last FROM (the stage that runs), without `--platform` or `AS`."""
        froms = self.arguments("FROM")
        if not froms:
            raise DockerfileError(f"{self.path}: no FROM")
        return next(word for word in froms[-1].split() if not word.startswith("--"))

    def entrypoint(self) -> list[str]:
        """The last ENTRYPOINT, which must be in exec form (a JSON array)."""
        entrypoints = self.arguments("ENTRYPOINT")
        if not entrypoints:
            raise DockerfileError(f"{self.path}: no ENTRYPOINT")
        try:
            value = json.loads(entrypoints[-1])
        except ValueError:
            value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DockerfileError(f"{self.path}: ENTRYPOINT must be a JSON array of strings")
        return value

    def env(self) -> dict[str, str]:
        """Every ENV, in `KEY=value` form, later ones winning."""
        values: dict[str, str] = {}
        for arguments in self.arguments("ENV"):
            for pair in shlex.split(arguments):
                key, sep, value = pair.partition("=")
                if not sep:
                    raise DockerfileError(f"{self.path}: write ENV as KEY=value, not {arguments!r}")
                values[key] = value
        return values


def local_image(dockerfile: Path) -> str:
    """How a job definition on the local AWS names the image built from `dockerfile`."""
    return f"{LOCAL_IMAGE_PREFIX}{dockerfile.as_posix()}"


def local_entrypoint(image: str) -> list[str]:
    """The command that stands in for `image`'s ENTRYPOINT here: its `python` is this venv's."""
    if not image.startswith(LOCAL_IMAGE_PREFIX):
        raise DockerfileError(
            f"image {image!r} has no local build; the local stack runs `local:<Dockerfile>`"
        )
    entrypoint = Dockerfile.read(project_root() / image.removeprefix(LOCAL_IMAGE_PREFIX)).entrypoint()
    if entrypoint and Path(entrypoint[0]).name.startswith("python"):
        entrypoint = [sys.executable, *entrypoint[1:]]
    return entrypoint
