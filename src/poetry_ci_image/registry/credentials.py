"""Registry credentials: the user's Docker configuration first, then the CI platform's.

Order, for the registry host of the image:
1. the Docker configuration (`~/.docker/config.json` or `$DOCKER_CONFIG`), with its credential
   store and credential helpers, as the `docker` package's auth module resolves them;
2. GitLab CI: `CI_REGISTRY_USER` / `CI_REGISTRY_PASSWORD` when the host is `$CI_REGISTRY`;
3. GitHub Actions: `GITHUB_ACTOR` / `GITHUB_TOKEN` when the host is ghcr.io.

Credentials are only ever sent to the registry; they are never printed or put in an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from poetry_ci_image.errors import RegistryError


if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    origin: str = ""  # where they came from, for messages: "Docker config", "CI_REGISTRY_USER"

    def as_docker_auth(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def find_credentials(registry: str, env: Mapping[str, str]) -> Credentials | None:
    """Credentials for `registry` (a host[:port]), or None to go anonymous."""
    from_config = _docker_config(registry, env)
    if from_config is not None:
        return from_config
    if env.get("CI_REGISTRY") == registry and env.get("CI_REGISTRY_USER"):
        return Credentials(
            env["CI_REGISTRY_USER"], env.get("CI_REGISTRY_PASSWORD", ""), "CI_REGISTRY_USER"
        )
    if registry == "ghcr.io" and env.get("GITHUB_TOKEN"):
        return Credentials(
            env.get("GITHUB_ACTOR", "github-actions"), env["GITHUB_TOKEN"], "GITHUB_TOKEN"
        )
    return None


def _docker_config(registry: str, env: Mapping[str, str]) -> Credentials | None:
    import os

    config_dir = env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    config_file = os.path.join(config_dir, "config.json")
    if not os.path.isfile(config_file):
        return None
    from docker import auth
    from docker import errors

    try:
        config = auth.load_config(config_path=config_file)
        resolved = config.resolve_authconfig(registry) if config else None
    except (errors.DockerException, OSError, ValueError) as error:
        raise RegistryError(
            f"The Docker configuration {config_file} could not give credentials for {registry}: "
            f"{error}",
            "Fix the file or its credential helper, or run `docker login` again.",
        ) from None
    if not resolved:
        return None
    username = resolved.get("Username") or resolved.get("username")
    password = resolved.get("Password") or resolved.get("password")
    if not username or password is None:
        return None
    return Credentials(str(username), str(password), "Docker config")
