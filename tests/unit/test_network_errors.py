"""What a failed connection is called in messages: real failures on loopback, made by requests
(through urllib3), and the same wrapped as Poetry wraps them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import ssl
import struct
import subprocess
import threading

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import pytest
import requests

from poetry_ci_image.errors import RegistryError
from poetry_ci_image.plumbing.network_errors import CERTIFICATE_HINT
from poetry_ci_image.plumbing.network_errors import MAX_TEXT
from poetry_ci_image.plumbing.network_errors import REFUSED_CERTIFICATE_HINT
from poetry_ci_image.plumbing.network_errors import connection_failure
from poetry_ci_image.plumbing.network_errors import connection_hint
from poetry_ci_image.plumbing.network_errors import is_certificate_failure
from poetry_ci_image.registry.client import RegistryClient
from poetry_ci_image.registry.registries import Registries
from poetry_ci_image.registry.registries import docker_hub_hints
from poetry_ci_image.registry.retry import MISSING_HINT


if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def failure_of(
    url: str, timeout: float = 5, verify: bool | str = True
) -> requests.RequestException:
    """The exception requests raises for a GET of `url` (no proxy from the environment)."""
    with requests.Session() as session:
        session.trust_env = False
        try:
            session.get(url, timeout=timeout, verify=verify)
        except requests.RequestException as error:
            return error
    raise AssertionError(f"GET {url} did not fail")


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def listener(handle: object = None) -> Iterator[socket.socket]:
    """A loopback socket that accepts connections; `handle(connection)` runs for each."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)
            if callable(handle):
                with contextlib.suppress(OSError, ssl.SSLError):
                    handle(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.close()
        for connection in held:
            connection.close()


def self_signed(directory: Path, name: str = "127.0.0.1") -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for `name` (openssl), written to
    `directory`/cert.pem."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_nothing_listening(closed_port: int) -> None:
    error = failure_of(f"http://127.0.0.1:{closed_port}/v2/")
    assert connection_failure(error) == (
        "connection refused (nothing listens at that address and port)"
    )
    assert connection_hint(error, "Check the port.") == "Check the port."


def test_a_host_name_that_does_not_resolve() -> None:
    error = failure_of("http://registry.invalid/v2/")
    assert connection_failure(error) == "the host name does not resolve"


def test_a_server_that_never_answers() -> None:
    with listener() as server:
        port = server.getsockname()[1]
        error = failure_of(f"http://127.0.0.1:{port}/v2/", timeout=0.3)
    assert connection_failure(error) == "the connection timed out"


def test_a_connection_reset_by_the_server() -> None:
    def reset(connection: socket.socket) -> None:
        connection.recv(1024)
        # linger on, for 0 s: close() sends a reset
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()

    with listener(reset) as server:
        error = failure_of(f"http://127.0.0.1:{server.getsockname()[1]}/v2/")
    assert connection_failure(error) == "the connection was reset"


def test_an_untrusted_certificate_names_it_and_says_what_to_set(tmp_path: Path) -> None:
    """An intercepting proxy's certificate looks like this: verification fails."""
    context = self_signed(tmp_path)

    def handshake(connection: socket.socket) -> None:
        context.wrap_socket(connection, server_side=True).recv(1024)

    with listener(handshake) as server:
        error = failure_of(f"https://127.0.0.1:{server.getsockname()[1]}/simple/")
    assert connection_failure(error) == (
        "the server's TLS certificate is not trusted (self-signed certificate)"
    )
    assert connection_hint(error, "Check the network.") == CERTIFICATE_HINT
    assert is_certificate_failure(error)


def test_a_certificate_for_another_name_is_refused_and_not_blamed_on_a_proxy(
    tmp_path: Path,
) -> None:
    """Trusted, but issued for another host: no CA bundle helps; the hint says what to check."""
    context = self_signed(tmp_path, name="other.example")

    def handshake(connection: socket.socket) -> None:
        context.wrap_socket(connection, server_side=True).recv(1024)

    with listener(handshake) as server:
        url = f"https://127.0.0.1:{server.getsockname()[1]}/simple/"
        error = failure_of(url, verify=str(tmp_path / "cert.pem"))
    assert connection_failure(error).startswith(
        "the server's TLS certificate was refused (IP address mismatch"
    )
    assert connection_hint(error, "Check the network.") == REFUSED_CERTIFICATE_HINT
    assert is_certificate_failure(error)


def test_another_system_error_is_said_in_its_own_words() -> None:
    """No route, no network: the innermost system error, not urllib3's paragraph."""
    cause = OSError(errno.EHOSTUNREACH, os.strerror(errno.EHOSTUNREACH))
    error = requests.ConnectionError(RuntimeError("Max retries exceeded (...)"), cause)
    assert connection_failure(error) == "no route to host"
    assert not is_certificate_failure(error)


def test_plain_http_where_tls_was_expected() -> None:
    def answer(connection: socket.socket) -> None:
        connection.recv(1024)
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with listener(answer) as server:
        error = failure_of(f"https://127.0.0.1:{server.getsockname()[1]}/")
    assert connection_failure(error).startswith("the TLS handshake failed (")


def test_the_cause_is_found_under_poetrys_own_wrapping(closed_port: int) -> None:
    """Poetry raises its "All attempts to connect ... failed." inside the `except` of the
    connection error: the cause is in the chain, and it is what the message names."""
    cause = failure_of(f"http://127.0.0.1:{closed_port}/simple/")

    def poetry_like() -> None:
        try:
            raise cause
        except requests.ConnectionError:
            raise RuntimeError("All attempts to connect to 127.0.0.1 failed.")  # noqa: B904

    with pytest.raises(RuntimeError) as raised:
        poetry_like()
    assert connection_failure(raised.value).startswith("connection refused")


def test_a_file_system_error_keeps_its_file() -> None:
    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/cache/artifacts/x.whl")
    assert connection_failure(error) == "no space left on device: /cache/artifacts/x.whl"


def test_credentials_in_a_bare_host_are_hidden() -> None:
    """Poetry names the netloc, credentials included, without a scheme."""
    error = RuntimeError("All attempts to connect to ci:t0ken@index.example failed.")
    assert connection_failure(error) == "All attempts to connect to ***@index.example failed."


def test_exceptions_that_carry_each_other_end_the_walk() -> None:
    first, second = RuntimeError("first"), RuntimeError("second")
    first.__context__, second.__context__ = second, first
    assert connection_failure(first) == "first"


def test_anything_else_is_its_own_words_without_credentials_and_not_too_long() -> None:
    error = ValueError("fetching https://user:s3cret@index.example/simple/ " + "x" * 500)
    text = connection_failure(error)
    assert "s3cret" not in text
    assert text.startswith("fetching https://")
    assert len(text) == MAX_TEXT + len("...")


def test_a_registry_whose_name_does_not_resolve_is_named_and_not_retried() -> None:
    """No retry makes a host name exist: one message at once, naming the host that was asked
    (a Docker Hub mirror here) beside the registry's own name."""

    @dataclass
    class Lines:
        detail_lines: list[str] = field(default_factory=list)

        def status(self, message: str) -> None:
            pass

        def detail(self, message: str) -> None:
            self.detail_lines.append(message)

    lines = Lines()
    client = RegistryClient("docker.io", None, api_host="hub-mirror.invalid", reporter=lines)
    with pytest.raises(RegistryError) as raised:
        client.manifest_digest("library/python", "3.11")
    assert raised.value.message == (
        "The registry docker.io (at hub-mirror.invalid) cannot be reached: the host name does not "
        "resolve"
    )
    assert lines.detail_lines == []  # no "trying again in ..."


def test_a_docker_hub_mirror_that_cannot_be_reached_is_named_with_its_variable() -> None:
    registry = Registries({"POETRY_CI_IMAGE_DOCKER_HUB_MIRROR": "hub-mirror.invalid"})
    with pytest.raises(RegistryError) as raised:
        registry.open("docker.io").manifest_digest("library/python", "3.11")
    assert raised.value.hint == (
        "Check POETRY_CI_IMAGE_DOCKER_HUB_MIRROR=hub-mirror.invalid: Docker Hub's images are read "
        "from there."
    )


def test_docker_hub_out_of_reach_points_to_a_copy_of_the_base_or_a_mirror() -> None:
    """Docker Hub itself is not asked here: the advice for it, beside a plain registry's."""
    hub = docker_hub_hints(None)
    assert hub.unreachable == (
        "Check the network and any proxy settings. Where Docker Hub cannot be reached, set `base` "
        "to a copy in a registry you can reach, or POETRY_CI_IMAGE_DOCKER_HUB_MIRROR to a mirror "
        "of Docker Hub."
    )
    assert hub.missing == MISSING_HINT
