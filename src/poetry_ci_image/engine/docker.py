"""The Docker engine, behind a narrow seam.

`Engine` is what the build and push steps need from an engine; `DockerEngine` is the real one,
reached through the `docker` package the way the docker CLI finds it (DOCKER_HOST, else the
current Docker context, else the default socket). Unit tests pass their own `Engine`.
"""

from __future__ import annotations

import re

from collections import deque
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol

from poetry_ci_image.errors import BuildError
from poetry_ci_image.errors import EngineError
from poetry_ci_image.errors import RegistryError


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Mapping
    from pathlib import Path

    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.registry.credentials import Credentials

    BuildArgs = Mapping[str, str]


LOG_TAIL_LINES = 25
_STEP = re.compile(r"^Step \d+/\d+ : ")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Engine(Protocol):
    def has_image(self, reference: str) -> bool: ...

    def find_labelled(self, label: str, value: str) -> str | None:
        """The ID of an image carrying the label `label=value`, if the engine has one."""
        ...

    def build(
        self, context: Path, reference: str, build_args: BuildArgs, reporter: Reporter
    ) -> str:
        """Build the tar `context` (with the engine's default network) as `reference`; return
        the image ID. Each step's line is a status, the rest of the log detail."""
        ...

    def tag(self, image: str, reference: str) -> None: ...

    def layers_of(self, image: str) -> frozenset[str]:
        """The diff_ids of `image` (an ID or a reference) if the engine has it, else none."""
        ...

    def load(self, archive: Iterator[bytes], reporter: Reporter) -> None:
        """`docker load` of a docker-archive stream."""
        ...

    def push(
        self,
        reference: str,
        credentials: Credentials | None,
        reporter: Reporter,
    ) -> None: ...


class DockerEngine:
    """The real engine, through the `docker` package (imported on first use)."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self._environment = dict(environment)
        self._api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = _connect(self._environment)
        return self._api

    def has_image(self, reference: str) -> bool:
        import docker.errors

        try:
            self.api.inspect_image(reference)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.DockerException as error:
            raise EngineError(f"The Docker engine failed to inspect {reference}: {error}") from None
        return True

    def find_labelled(self, label: str, value: str) -> str | None:
        import docker.errors

        try:
            images = self.api.images(filters={"label": f"{label}={value}"})
        except docker.errors.DockerException as error:
            raise EngineError(f"The Docker engine failed to list images: {error}") from None
        return str(images[0]["Id"]) if images else None

    def build(
        self, context: Path, reference: str, build_args: BuildArgs, reporter: Reporter
    ) -> str:
        import docker.errors

        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        step = ""
        image_id = ""
        try:
            with context.open("rb") as stream:
                events: Iterator[dict[str, Any]] = self.api.build(
                    fileobj=stream,
                    custom_context=True,
                    tag=reference,
                    buildargs=dict(build_args),
                    rm=True,
                    forcerm=True,
                    pull=False,
                    decode=True,
                )
                for event in events:
                    if "stream" in event:
                        for line in _ANSI.sub("", str(event["stream"])).splitlines():
                            if not line.strip():
                                continue
                            tail.append(line)
                            if _STEP.match(line):
                                step = line
                                reporter.status(f"  {line}")
                            else:
                                reporter.detail(f"    {line}")
                    if "aux" in event and isinstance(event["aux"], dict):
                        image_id = str(event["aux"].get("ID", image_id))
                    if "error" in event:
                        message = _ANSI.sub("", str(event["error"])).strip()
                        if not tail or tail[-1] != message:
                            tail.append(message)
                        raise BuildError(
                            f"The image build failed at {step or 'its start'}.",
                            "Fix the failing step: the last lines of the build log are above, "
                            "`-v` shows the whole log.",
                            tuple(tail),
                        )
        except docker.errors.DockerException as error:
            raise EngineError(
                f"The Docker engine refused the build: {error}",
                "Check that the engine runs and that you may use it (`docker info`).",
            ) from None
        if not image_id:
            image_id = reference
        return image_id

    def layers_of(self, image: str) -> frozenset[str]:
        import docker.errors

        try:
            inspected = self.api.inspect_image(image)
        except docker.errors.ImageNotFound:
            return frozenset()
        except docker.errors.DockerException as error:
            raise EngineError(f"The Docker engine failed to inspect {image}: {error}") from None
        return frozenset(inspected.get("RootFS", {}).get("Layers") or ())

    def load(self, archive: Iterator[bytes], reporter: Reporter) -> None:
        import docker.errors

        try:
            for event in self.api.load_image(archive):
                if "error" in event:
                    raise EngineError(
                        f"The Docker engine refused the image: {event['error']}",
                        "Check the engine's log (`docker info`, the daemon's journal).",
                    )
                if event.get("stream"):
                    reporter.detail(str(event["stream"]).strip())
        except docker.errors.DockerException as error:
            raise EngineError(
                f"The Docker engine refused to load the image: {error}",
                "Check that the engine runs and that you may use it (`docker info`).",
            ) from None

    def tag(self, image: str, reference: str) -> None:
        import docker.errors

        repository, _, tag = reference.rpartition(":")
        try:
            self.api.tag(image, repository, tag)
        except docker.errors.DockerException as error:
            raise EngineError(f"Tagging {image} as {reference} failed: {error}") from None

    def push(
        self,
        reference: str,
        credentials: Credentials | None,
        reporter: Reporter,
    ) -> None:
        import docker.errors

        repository, _, tag = reference.rpartition(":")
        auth = credentials.as_docker_auth() if credentials else None
        last: dict[str, str] = {}
        try:
            for event in self.api.push(
                repository, tag=tag, stream=True, decode=True, auth_config=auth
            ):
                if "error" in event:
                    raise RegistryError(
                        f"The registry refused the push of {reference}: {event['error']}",
                        _push_hint(str(event["error"]), reference),
                    )
                status = str(event.get("status", ""))
                layer = str(event.get("id", ""))
                # One line per layer and state, not per progress tick.
                if status and last.get(layer) != status:
                    last[layer] = status
                    reporter.detail(f"{layer}: {status}" if layer else status)
        except docker.errors.DockerException as error:
            raise RegistryError(
                f"Pushing {reference} failed: {error}", _push_hint(str(error), reference)
            ) from None


def _push_hint(message: str, reference: str) -> str:
    lowered = message.lower()
    registry = reference.split("/", 1)[0]
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        return (
            f"Log in to {registry} (`docker login {registry}`), or check that these "
            "credentials may push to this repository."
        )
    return f"Check that {registry} is reachable and accepts pushes."


def _connect(environment: Mapping[str, str]) -> Any:
    """An APIClient for the engine the docker CLI would use."""
    import docker
    import docker.errors

    try:
        if environment.get("DOCKER_HOST"):
            client = docker.from_env(environment=dict(environment))
            api = client.api
        else:
            from docker.context import ContextAPI

            context = ContextAPI.get_current_context()
            api = docker.APIClient(
                base_url=context.Host, tls=context.TLSConfig or False, version="auto"
            )
        api.ping()
    except docker.errors.DockerException as error:
        where = environment.get("DOCKER_HOST") or "the current Docker context"
        raise EngineError(
            f"No Docker engine answers at {where}: {_short(error)}",
            "Start Docker, or point DOCKER_HOST at a running engine "
            "(in GitLab CI: a docker:dind service with DOCKER_HOST=tcp://docker:2375).",
        ) from None
    return api


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) < 300 else text[:300] + "..."
