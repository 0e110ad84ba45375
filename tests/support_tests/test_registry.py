"""Self-tests of ``tests.support.registry``: a real ``docker-registry`` on loopback."""

from __future__ import annotations

import re
import socket

from typing import TYPE_CHECKING

import pytest

from tests.support.registry import Registry
from tests.support.registry import http_status
from tests.support.registry import manifest_status
from tests.support.registry import registry_binary


if TYPE_CHECKING:
    from pathlib import Path


pytestmark = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed"
)


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_open_registry(tmp_path: Path) -> None:
    """An open registry answers /v2/ with 200, a missing tag with 404, and is gone after exit."""
    with Registry(tmp_path / "registry") as registry:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", registry.host)
        assert registry.auth is None
        assert http_status(f"http://{registry.host}/v2/") == 200
        assert manifest_status(registry.host, "team/app", "missing") == 404
        config = registry.config_path.read_text(encoding="utf-8")
        assert f'addr: "{registry.host}"' in config
        assert "auth:" not in config
        port = registry.port
    assert registry.storage_path.is_dir()
    assert not port_open(port)


def test_authenticated_registry(tmp_path: Path) -> None:
    """An htpasswd registry answers 401 without credentials and 200/404 with them."""
    credentials = ("ci-user", "ci-pass")
    with Registry(tmp_path / "registry", username="ci-user", password="ci-pass") as registry:
        assert registry.auth == credentials
        assert http_status(f"http://{registry.host}/v2/") == 401
        assert http_status(f"http://{registry.host}/v2/", auth=credentials) == 200
        assert http_status(f"http://{registry.host}/v2/", auth=("ci-user", "nope")) == 401
        assert manifest_status(registry.host, "team/app", "missing") == 401
        assert manifest_status(registry.host, "team/app", "missing", auth=credentials) == 404
        entry = registry.htpasswd_path.read_text(encoding="utf-8")
        assert entry.startswith("ci-user:$2y$")
        assert "ci-pass" not in entry + registry.config_path.read_text(encoding="utf-8")


def test_startup_failure_reports_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry that cannot start (its port is taken) raises with its log's tail."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr("tests.support.registry.free_port", lambda: taken.getsockname()[1])
        registry = Registry(tmp_path / "registry", startup_timeout=10)
        with pytest.raises(RuntimeError, match="address already in use"):
            registry.start()
    assert registry.log_path.is_file()
