"""What a failed connection is called in messages: real failures on loopback, made by requests
(through urllib3), and the same wrapped as Poetry wraps them.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import subprocess
import threading

from typing import TYPE_CHECKING

import pytest
import requests

from poetry_ci_image.network_errors import CERTIFICATE_HINT
from poetry_ci_image.network_errors import MAX_TEXT
from poetry_ci_image.network_errors import connection_failure
from poetry_ci_image.network_errors import connection_hint


if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def failure_of(url: str, timeout: float = 5) -> requests.RequestException:
    """The exception requests raises for a GET of `url` (no proxy from the environment)."""
    with requests.Session() as session:
        session.trust_env = False
        try:
            session.get(url, timeout=timeout)
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


def self_signed(directory: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1 (openssl)."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
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


def test_anything_else_is_its_own_words_without_credentials_and_not_too_long() -> None:
    error = ValueError("fetching https://user:s3cret@index.example/simple/ " + "x" * 500)
    text = connection_failure(error)
    assert "s3cret" not in text
    assert text.startswith("fetching https://")
    assert len(text) == MAX_TEXT + len("...")
