"""The registries one command run speaks to, each through one client with its credentials.

`Registry` is what the rest of the plugin needs from a registry (the seam unit tests fake);
`Registries` opens the real ones: credentials from the Docker configuration or the CI platform
(credentials.py), Docker Hub at its API host or at the mirror `POETRY_CI_IMAGE_DOCKER_HUB_MIRROR`
names (a pull-through cache, for reading images named on Docker Hub).
"""

from __future__ import annotations

import threading

from typing import TYPE_CHECKING
from typing import Protocol

from poetry_ci_image.plumbing.progress import SILENT
from poetry_ci_image.reference import DOCKER_HUB
from poetry_ci_image.registry.client import RegistryClient
from poetry_ci_image.registry.credentials import find_credentials
from poetry_ci_image.registry.retry import Hints


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Mapping

    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.registry.credentials import Credentials
    from poetry_ci_image.registry.wire import Manifest


DOCKER_HUB_MIRROR_ENV = "POETRY_CI_IMAGE_DOCKER_HUB_MIRROR"
DOCKER_HUB_API = "registry-1.docker.io"  # where Docker Hub's API answers


class Registry(Protocol):
    name: str

    def manifest_digest(self, repository: str, reference: str) -> str | None: ...

    def get_manifest(self, repository: str, reference: str) -> Manifest: ...

    def put_manifest(
        self, repository: str, reference: str, body: bytes, media_type: str
    ) -> Mapping[str, str]: ...

    def has_blob(self, repository: str, digest: str) -> bool: ...

    def get_blob(self, repository: str, digest: str) -> bytes: ...

    def stream_blob(self, repository: str, digest: str) -> Iterator[bytes]: ...

    def mount_blob(self, repository: str, digest: str, source: str) -> bool: ...

    def upload_blob(
        self, repository: str, digest: str, size: int, chunks: Callable[[], Iterable[bytes]]
    ) -> None: ...


class RegistryOpener(Protocol):
    cancelled: threading.Event

    def open(self, registry: str) -> Registry: ...

    def api_host(self, registry: str) -> str:
        """The host that answers for `registry` (two names may be one registry)."""
        ...

    def credentials(self, registry: str) -> Credentials | None:
        """What a Docker engine pushing to `registry` should log in with."""
        ...


class Registries:
    """Opens each registry once per run; `reporter` hears about retries (as detail). It owns the
    run's `cancelled` flag, which every client and thread of the run watches."""

    def __init__(self, env: Mapping[str, str], reporter: Reporter = SILENT) -> None:
        self._env = env
        self._reporter = reporter
        self.cancelled = threading.Event()  # set when the run stops: every thread stops
        self._open: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def credentials(self, registry: str) -> Credentials | None:
        return find_credentials(registry, self._env)

    def api_host(self, registry: str) -> str:
        """Where requests for `registry` go: for `docker.io` its API host, or the mirror."""
        if registry == DOCKER_HUB:
            return self._env.get(DOCKER_HUB_MIRROR_ENV) or DOCKER_HUB_API
        return registry

    def open(self, registry: str) -> Registry:
        """The client for `registry` (a host[:port], or `docker.io`)."""
        with self._lock:
            client = self._open.get(registry)
            if client is None:
                api_host = self.api_host(registry)
                # Docker Hub's credentials never go to a mirror: the mirror's own, if any.
                credentials_for = DOCKER_HUB if api_host == DOCKER_HUB_API else api_host
                client = RegistryClient(
                    registry,
                    find_credentials(credentials_for, self._env),
                    api_host=api_host,
                    reporter=self._reporter,
                    cancelled=self.cancelled,
                    hints=docker_hub_hints(self._env.get(DOCKER_HUB_MIRROR_ENV))
                    if registry == DOCKER_HUB
                    else None,
                )
                self._open[registry] = client
            return client


def docker_hub_hints(mirror: str | None) -> Hints:
    """What to do when Docker Hub, or the mirror read in its place, cannot give the base."""
    if mirror:
        return Hints(
            unreachable=f"Check {DOCKER_HUB_MIRROR_ENV}={mirror}: Docker Hub's images are read "
            "from there.",
            missing=f"The mirror {mirror} ({DOCKER_HUB_MIRROR_ENV}) must hold it under that path "
            "(push a copy there), or check `base` in [tool.poetry-ci-image].",
        )
    return Hints(
        unreachable="Check the network and any proxy settings. Where Docker Hub cannot be reached, "
        "set `base` to a copy in a registry you can reach, or "
        f"{DOCKER_HUB_MIRROR_ENV} to a mirror of Docker Hub.",
    )
