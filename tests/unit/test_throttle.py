"""The hosted benchmark's throttling proxy limits the rate, shares it, and adds its delays.

Loopback sockets only: a server on a thread of its own, the proxy in front of it.
"""

from __future__ import annotations

import math
import socket
import socketserver
import threading
import time

from typing import TYPE_CHECKING

import pytest

from benchmarks.throttle import UNLIMITED
from benchmarks.throttle import Link
from benchmarks.throttle import ThrottleProxy
from benchmarks.throttle import Wire


if TYPE_CHECKING:
    from collections.abc import Iterator


MB = 1_000_000
PAYLOAD = b"x" * MB


class _Handler(socketserver.BaseRequestHandler):
    """`get N\\n`: send N bytes, then close; `echo\\n...`: send back what comes until EOF."""

    def handle(self) -> None:
        request: socket.socket = self.request
        line = b""
        while not line.endswith(b"\n"):
            piece = request.recv(1)
            if not piece:
                return
            line += piece
        if line.startswith(b"get "):
            request.sendall(PAYLOAD[: int(line.split()[1])])
            return
        while piece := request.recv(65536):
            request.sendall(piece)


@pytest.fixture
def upstream() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ("127.0.0.1", int(server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()


def fetch(port: int, size: int) -> tuple[float, float]:
    """Seconds until the first byte and until the last of a `get size`."""
    started = time.perf_counter()
    first = math.nan
    received = 0
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(f"get {size}\n".encode())
        while piece := connection.recv(65536):
            if received == 0:
                first = time.perf_counter() - started
            received += len(piece)
    assert received == size
    return first, time.perf_counter() - started


def test_a_wire_sends_one_chunk_after_the_other_at_its_rate() -> None:
    wire = Wire()
    assert wire.send(1000, 1000.0, now=10.0) == pytest.approx(11.0)
    assert wire.send(500, 1000.0, now=10.2) == pytest.approx(11.5)  # queued behind the first
    assert wire.send(100, 1000.0, now=20.0) == pytest.approx(20.1)  # idle meanwhile
    assert wire.send(10**9, math.inf, now=20.0) == 20.0


def test_the_link_describes_itself() -> None:
    link = Link("far", down=20e6, up=10e6, delay=0.03)
    assert link.rtt == pytest.approx(0.06)
    assert link.describe() == (
        "20 MB/s down, 10 MB/s up, 60 ms round trip, 2 round trips to connect"
    )
    assert UNLIMITED.describe() == "loopback, no limit"


def test_the_rate_limits_a_download(upstream: tuple[str, int]) -> None:
    link = Link("slow", down=4 * MB, up=math.inf, delay=0.0, handshake_rtts=0)
    with ThrottleProxy({"server": upstream}, link) as proxy:
        _, seconds = fetch(proxy.port("server"), MB)
    assert 0.24 <= seconds <= 1.5  # 1 MB at 4 MB/s (a loaded machine adds to it)


def test_connections_share_the_rate(upstream: tuple[str, int]) -> None:
    link = Link("slow", down=4 * MB, up=math.inf, delay=0.0, handshake_rtts=0)
    results: list[float] = []
    with ThrottleProxy({"server": upstream}, link) as proxy:
        threads = [
            threading.Thread(target=lambda: results.append(fetch(proxy.port("server"), MB)[1]))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert 0.48 <= max(results) <= 2.0  # 2 MB at 4 MB/s, in turns


def test_the_delay_and_the_handshake_come_before_the_first_byte(
    upstream: tuple[str, int],
) -> None:
    link = Link("far", down=math.inf, up=math.inf, delay=0.05, handshake_rtts=1)
    with ThrottleProxy({"server": upstream}, link) as proxy:
        first, _ = fetch(proxy.port("server"), 1000)
    # one round trip to connect, the request up, the answer down: 0.1 + 0.05 + 0.05
    assert 0.19 <= first <= 1.0


def test_an_echo_takes_a_round_trip_and_the_link_can_change(upstream: tuple[str, int]) -> None:
    with (
        ThrottleProxy({"server": upstream}) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port("server"))) as connection,
    ):
        connection.sendall(b"echo\n")
        started = time.perf_counter()
        connection.sendall(b"ping")
        assert connection.recv(4) == b"ping"
        fast = time.perf_counter() - started
        proxy.set_link(Link("far", down=math.inf, up=math.inf, delay=0.05))
        started = time.perf_counter()
        connection.sendall(b"pong")
        assert connection.recv(4) == b"pong"
        slow = time.perf_counter() - started
    assert fast < slow - 0.05
    assert 0.095 <= slow <= 1.0
