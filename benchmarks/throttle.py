"""A loopback TCP proxy that makes a link slow: bandwidth per direction, delay, handshakes.

The hosted-runner benchmark (hosted.py) puts the registries and the package index behind it,
so that the clients (dockerd, pip, uv, Poetry, the plugin) see a network like a hosted runner's
rather than loopback's. Each route listens on its own port of 127.0.0.1 and forwards to one
upstream `host:port`; every route shares one `Link`, as every connection of a machine shares its
network interface:

- **bandwidth**: each direction is one transmitter (`Wire`) that sends one chunk at a time at
  the link's rate, shared by every connection in that direction. A connection waits for its
  chunk to be sent before it reads the next, so connections take turns chunk by chunk;
- **delay**: a chunk arrives at the other side `delay` seconds (one way) after it was sent, and
  chunks are pipelined (several are under way at once, as on a real path);
- **handshakes**: a new connection carries no byte before `handshake_rtts` round trips (TCP's,
  and TLS 1.3's, which the real registry and index ask for and loopback does not).

Not modelled: TCP's slow start and windows, loss, and the receiving side's rate. The link can be
changed while the proxy runs (`set_link`); connections read it for every chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import threading

from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.service import Service


if TYPE_CHECKING:
    from collections.abc import Mapping


CHUNK = 256 * 1024
BUFFER = 1024 * 1024  # each stream's read buffer
QUEUED_CHUNKS = 256  # chunks under way per connection and direction before its reader waits
# How far a connection's reader may run ahead of the wire, and how early a chunk may go out:
# the wire's clock stays exact, this only spares the event loop a sleep per chunk.
SLACK = 0.004


@dataclass(frozen=True)
class Link:
    """A network path: `down` (to the client) and `up` (from it) in bytes per second,
    `delay` one way in seconds, and the round trips before a new connection carries data."""

    name: str
    down: float
    up: float
    delay: float
    handshake_rtts: int = 2

    @property
    def rtt(self) -> float:
        return 2 * self.delay

    def describe(self) -> str:
        if math.isinf(self.down) and math.isinf(self.up) and self.delay == 0:
            return "loopback, no limit"
        return (
            f"{self.down / 1e6:g} MB/s down, {self.up / 1e6:g} MB/s up, "
            f"{self.rtt * 1e3:g} ms round trip, {self.handshake_rtts} round trips to connect"
        )


UNLIMITED = Link("unlimited", math.inf, math.inf, 0.0, 0)


class Wire:
    """One direction of a link: a transmitter that sends a chunk at a time at a rate."""

    def __init__(self) -> None:
        self._free_at = 0.0

    def send(self, size: int, rate: float, now: float) -> float:
        """Queue `size` bytes at `now`: when their last byte leaves (after those queued before)."""
        if math.isinf(rate):
            return now
        start = max(now, self._free_at)
        self._free_at = start + size / rate
        return self._free_at


class ThrottleProxy(Service):
    """Routes `name -> (host, port)` on free ports of 127.0.0.1, through one `Link`.

    The proxy runs an event loop on a thread of its own; `port(name)` is where a route listens.
    """

    def __init__(self, routes: Mapping[str, tuple[str, int]], link: Link = UNLIMITED) -> None:
        self._routes = dict(routes)
        self.link = link
        self._down = Wire()
        self._up = Wire()
        self._ports: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.connections = 0  # accepted so far

    def set_link(self, link: Link) -> None:
        """From now on, every chunk goes at `link`'s rates and delay."""
        self.link = link

    def port(self, name: str) -> int:
        return self._ports[name]

    def start(self) -> ThrottleProxy:
        self._thread = threading.Thread(target=self._serve, name="throttle-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._failure is not None:
            raise RuntimeError(f"the throttling proxy did not start: {self._failure}")
        if not self._ready.is_set():
            raise RuntimeError("the throttling proxy did not start within 10 s")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._loop = self._thread = None

    # The event loop's thread --------------------------------------------------------------------

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            for name, upstream in self._routes.items():
                server = loop.run_until_complete(
                    asyncio.start_server(
                        functools.partial(self._connection, upstream=upstream),
                        "127.0.0.1",
                        0,
                        limit=BUFFER,
                    )
                )
                self._servers.append(server)
                self._ports[name] = int(server.sockets[0].getsockname()[1])
        except OSError as error:
            self._failure = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _connection(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        upstream: tuple[str, int],
    ) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                *upstream, limit=BUFFER
            )
        except OSError:
            client_writer.close()
            return
        link = self.link
        if link.handshake_rtts:
            await asyncio.sleep(link.handshake_rtts * link.rtt)
        up = self._pump(client_reader, upstream_writer, self._up, upward=True)
        down = self._pump(upstream_reader, client_writer, self._down, upward=False)
        await asyncio.gather(up, down, return_exceptions=True)
        for writer in (client_writer, upstream_writer):
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        wire: Wire,
        *,
        upward: bool,
    ) -> None:
        """Copy one direction: each chunk sent on `wire` at the link's rate, delivered after its
        delay; the end of the stream (or a reset) passes on the same way."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue(QUEUED_CHUNKS)
        broken = asyncio.Event()  # the receiving side is gone: stop reading
        deliver = loop.create_task(_deliver(queue, writer, broken))
        while not broken.is_set():
            try:
                data = await reader.read(CHUNK)
            except OSError:
                data = b""
            if not data:
                break
            link = self.link
            now = loop.time()
            sent = wire.send(len(data), link.up if upward else link.down, now)
            await queue.put((sent + link.delay, data))
            if sent - now > SLACK:
                await asyncio.sleep(sent - now - SLACK)
        await queue.put((loop.time() + self.link.delay, None))
        await deliver


async def _deliver(
    queue: asyncio.Queue[tuple[float, bytes | None]],
    writer: asyncio.StreamWriter,
    broken: asyncio.Event,
) -> None:
    """Write each chunk when it is due; after a failed write, take the rest without writing
    (so that the reading side never waits on a full queue)."""
    loop = asyncio.get_running_loop()
    while True:
        at, data = await queue.get()
        if data is None:
            if not broken.is_set() and writer.can_write_eof():
                with contextlib.suppress(OSError):
                    writer.write_eof()
            return
        if broken.is_set():
            continue
        wait = at - loop.time()
        if wait > SLACK / 4:
            await asyncio.sleep(wait)
        try:
            writer.write(data)
            await writer.drain()
        except OSError:
            broken.set()
