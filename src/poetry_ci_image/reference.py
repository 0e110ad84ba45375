"""Image references: `[registry[:port]/]path[:tag][@sha256:...]`, checked as Docker checks them."""

from __future__ import annotations

import re

from dataclasses import dataclass

from poetry_ci_image.errors import ConfigError


DOCKER_HUB = "docker.io"

# Docker's grammar (distribution/reference): path components, registry hosts, tags, digests.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::\d+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")  # the only digest algorithm the plugin writes


@dataclass(frozen=True)
class ImageReference:
    registry: str  # "docker.io" for Docker Hub
    path: str  # "library/python" on Docker Hub
    tag: str | None = None
    digest: str | None = None  # "sha256:...", pins the image whatever the tag says

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest if pinned, else the tag (default latest)."""
        return self.digest or self.tag or "latest"

    @property
    def canonical(self) -> str:
        """The fully qualified name, as OCI annotations want it: docker.io/library/python:3.12."""
        name = f"{self.registry}/{self.path}"
        name += f":{self.tag}" if self.tag else ""
        return name + (f"@{self.digest}" if self.digest else "")

    @property
    def repository(self) -> str:
        """The repository as the user wrote it (without the implicit docker.io/library/)."""
        if self.registry == DOCKER_HUB:
            return self.path.removeprefix("library/")
        return f"{self.registry}/{self.path}"

    def with_tag(self, tag: str) -> ImageReference:
        if not _TAG.match(tag):
            raise ConfigError(
                f"'{tag}' is not a valid image tag.",
                "Use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'.",
            )
        return ImageReference(self.registry, self.path, tag)

    def __str__(self) -> str:
        text = self.repository if self.tag is None else f"{self.repository}:{self.tag}"
        return text + (f"@{self.digest}" if self.digest else "")


def parse_repository(value: str) -> ImageReference:
    """A repository name without tag: `registry.example.com:5000/team/app/ci-image`."""
    text = value.strip()
    bad = ConfigError(
        f"repository '{value}' is not a valid image repository name.",
        "Use [registry[:port]/]path in lower case, without a tag, for example "
        "registry.example.com/team/project/ci-image.",
    )
    if not text or "@" in text:
        raise bad
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
        if not _HOST.match(registry):
            raise bad
    else:
        if ":" in text:  # a tag, or a port without a registry host
            raise bad
        registry, path = DOCKER_HUB, text if "/" in text else f"library/{text}"
    if not _PATH.match(path) or len(text) > 255:
        raise bad
    return ImageReference(registry, path)


def parse_image(value: str, what: str = "base") -> ImageReference:
    """An image reference with a tag and/or a digest: `python:3.12-slim`, `reg/x@sha256:...`."""
    text = value.strip()
    bad = ConfigError(
        f"{what} '{value}' is not a valid image reference.",
        "Write it as [registry[:port]/]name[:tag][@sha256:digest], for example "
        "python:3.12-slim or registry.example.com/base/python:3.12@sha256:<64 hex digits>.",
    )
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise bad
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise bad
    try:
        repository = parse_repository(name)
    except ConfigError:
        raise bad from None
    return ImageReference(repository.registry, repository.path, tag, digest or None)
