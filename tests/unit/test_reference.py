"""Image references, checked as Docker checks them."""

from __future__ import annotations

import pytest

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.reference import parse_repository
from poetry_ci_image.registry.registries import Registries
from poetry_ci_image.registry.wire import base_url


@pytest.mark.parametrize(
    ("name", "registry", "path", "api_host"),
    [
        pytest.param("app", "docker.io", "library/app", "registry-1.docker.io", id="official"),
        pytest.param("team/app", "docker.io", "team/app", "registry-1.docker.io", id="hub user"),
        pytest.param(
            "registry.example/group/app/ci-image",
            "registry.example",
            "group/app/ci-image",
            "registry.example",
            id="nested path",
        ),
        pytest.param("127.0.0.1:5000/app", "127.0.0.1:5000", "app", "127.0.0.1:5000", id="port"),
        pytest.param("localhost/app", "localhost", "app", "localhost", id="localhost"),
    ],
)
def test_parse_repository(name: str, registry: str, path: str, api_host: str) -> None:
    """The registry host is the first component when it looks like a host; Docker Hub's API
    answers at its own host."""
    reference = parse_repository(name)
    api = Registries({}).api_host(reference.registry)
    assert (reference.registry, reference.path, api) == (registry, path, api_host)
    assert str(reference.with_tag("t1")) == f"{name}:t1"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Registry.example/App", id="upper case path"),
        pytest.param("registry.example/app:tag", id="with a tag"),
        pytest.param("app:1", id="short name with a tag"),
        pytest.param("registry.example/app@sha256:00", id="with a digest"),
        pytest.param("registry.example/-app", id="component starts with a dash"),
        pytest.param("", id="empty"),
    ],
)
def test_invalid_repository(name: str) -> None:
    """A name Docker would refuse is refused before any work, with the expected form."""
    with pytest.raises(ConfigError) as raised:
        parse_repository(name)
    assert raised.value.message == f"repository '{name}' is not a valid image repository name."


def test_invalid_tag() -> None:
    """Tags follow Docker's grammar."""
    with pytest.raises(ConfigError):
        parse_repository("registry.example/app").with_tag("-bad")


@pytest.mark.parametrize(
    ("host", "url"),
    [
        pytest.param("127.0.0.1:5000", "http://127.0.0.1:5000", id="loopback is plain HTTP"),
        pytest.param("localhost:5000", "http://localhost:5000", id="localhost is plain HTTP"),
        pytest.param("registry.example", "https://registry.example", id="others are HTTPS"),
    ],
)
def test_registry_scheme(host: str, url: str) -> None:
    """As the engine does, loopback registries are spoken to without TLS."""
    assert base_url(host) == url
