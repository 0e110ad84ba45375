"""A loopback copy of a Debian archive: a caching HTTP proxy in front of the real one (whose
address the test reads from the base's own apt sources at run time), with faults on demand.

Every file the plugin asks for is fetched from the archive once and kept on disk, so tests that
tamper with files or take the archive away run against exactly what the archive served:

- `corrupt(pattern)`: the next answers for paths matching `pattern` have one byte changed;
- `fail(pattern, status, times)`: that many answers are `status` (503: a passing outage);
- `stop()`: the archive is gone (connections refused).
"""

from __future__ import annotations

import hashlib
import http.client
import re
import threading

from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit


if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType


@dataclass
class _Faults:
    corrupt: list[re.Pattern[str]] = field(default_factory=list)
    failures: list[list[object]] = field(default_factory=list)  # [pattern, status, times left]
    seen: list[str] = field(default_factory=list)


class ArchiveProxy:
    """The archive at `upstream` (`http://host/path`), served on 127.0.0.1 from `cache`."""

    def __init__(self, upstream: str, cache: Path) -> None:
        parts = urlsplit(upstream)
        self.host = parts.hostname or ""
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.cache = cache
        self.faults = _Faults()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def corrupt(self, pattern: str) -> None:
        with self._lock:
            self.faults.corrupt.append(re.compile(pattern))

    def fail(self, pattern: str, status: int, times: int) -> None:
        with self._lock:
            self.faults.failures.append([re.compile(pattern), status, times])

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.faults.seen)

    def start(self) -> ArchiveProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ArchiveProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        with self._lock:
            self.faults.seen.append(path)
            for failure in self.faults.failures:
                pattern, status, left = failure
                if isinstance(left, int) and left > 0 and pattern.search(path):  # type: ignore[attr-defined]
                    failure[2] = left - 1
                    handler.send_response(int(status))  # type: ignore[call-overload]
                    handler.send_header("Content-Length", "0")
                    handler.end_headers()
                    return
            corrupt = any(pattern.search(path) for pattern in self.faults.corrupt)
        status, body = self._fetch(path)
        if corrupt and body:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _fetch(self, path: str) -> tuple[int, bytes]:
        kept = self.cache / hashlib.sha256(path.encode()).hexdigest()
        if kept.is_file():
            return 200, kept.read_bytes()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request("GET", path, headers={"Host": self.host})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status == 200:
            self.cache.mkdir(parents=True, exist_ok=True)
            kept.write_bytes(body)
        return response.status, body
