"""A loopback mirror of the package index: the real pages and files, fetched once and kept.

The hosted-runner benchmark (hosted.py) puts the index behind a throttling proxy (throttle.py),
so the index has to be on loopback: this serves PEP 503 pages and files over plain HTTP from a
directory under /var/tmp, and fetches what it lacks from the index given at run time (the
mirror "pulls through"). So every client (pip, uv, Poetry, the plugin) gets the files it would
get from the real index, whatever it resolves, and the pages are the real ones (every release of
a project listed, as large as on the real index; gzip'd on the wire when the client accepts it,
as the real index does). A page is kept as first fetched: later runs see the same releases. A
page has an ETag and no max-age, so a client that cached it asks again and gets a 304 (as from
the real index, whose pages' max-age is ten minutes, for a cache older than that); files are
immutable, as the real index's are.

Every fetch from upstream is a *miss* and is recorded with the label the benchmark set
(`job`): a measured job that missed waited on the real index, so its figures do not count
(hosted.py refuses to write its report then; the next run finds everything here).

Links on the pages are rewritten to the mirror (`../../f/<host>/<path>`), relative, so that
they lead back through the proxy. Distributions not on the index (the plugin's own wheel) are
given as `local` files and listed on a page of their own; the index is never asked for them.
No host name of a package registry is written to a committed file: the index's URL comes from
the command line, and the cache directory is not in the repository.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request

from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from tests.support.index import normalize_name
from tests.support.index import project_of

from benchmarks.service import Service


if TYPE_CHECKING:
    from collections.abc import Iterable


UPSTREAM_TIMEOUT = 120
_HREF = re.compile(r'href="([^"]+)"')
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class Miss:
    """A page or file the mirror lacked and fetched from the index, during `job`."""

    job: str
    what: str


def rewrite_links(page: str, page_url: str) -> str:
    """The page with every link to a file made relative to the mirror: `../../f/<host>/<path>`
    (the fragment, `#sha256=...`, kept); other attributes as they are."""

    def local(match: re.Match[str]) -> str:
        target = urllib.parse.urljoin(page_url, html.unescape(match[1]))
        parts = urllib.parse.urlsplit(target)
        if parts.scheme not in ("http", "https"):
            return match[0]
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        path = urllib.parse.quote(f"{parts.netloc}{parts.path}", safe="/")
        return f'href="{html.escape(f"../../f/{path}{fragment}")}"'

    return _HREF.sub(local, page)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `Range: bytes=...` within `size`; None for the whole file
    (no header, several ranges, or one that does not fit)."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:
        first, last = max(0, size - int(match[2])), size - 1
    else:
        first = int(match[1])
        last = min(int(match[2]), size - 1) if match[2] else size - 1
    return (first, last) if first <= last < size else None


class IndexMirror(Service):
    """The mirror: `cache` (pages/ and f/ below it), the index at `upstream` (None: never
    fetch), and `local` distribution files served under their own project's page."""

    def __init__(self, cache: Path, upstream: str | None, local: Iterable[Path] = ()) -> None:
        self.cache = cache
        self.upstream = upstream.rstrip("/") + "/" if upstream else None
        self.local = {path.name: path for path in local}
        self.job = "setup"
        self.misses: list[Miss] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the mirror is not started")
        return int(self._server.server_address[1])

    def start(self) -> IndexMirror:
        (self.cache / "pages").mkdir(parents=True, exist_ok=True)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._thread = threading.Thread(
            target=server.serve_forever, name="index-mirror", kwargs={"poll_interval": 0.05}
        )
        self._thread.daemon = True
        self._thread.start()
        self._server = server
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def misses_of(self, job: str) -> list[Miss]:
        with self._lock:
            return [miss for miss in self.misses if miss.job == job]

    def _missed(self, what: str) -> None:
        with self._lock:
            self.misses.append(Miss(self.job, what))

    # Pages and files ----------------------------------------------------------------------------

    def page(self, project: str) -> bytes | None:
        """The project's page, gzip'd; None when neither the mirror nor the index has it."""
        local = [path for name, path in self.local.items() if project_of(name) == project]
        if local:
            return gzip.compress(_local_page(project, local).encode(), mtime=0)
        kept = self.cache / "pages" / f"{project}.html.gz"
        if kept.is_file():
            return kept.read_bytes()
        if self.upstream is None:
            return None
        url = f"{self.upstream}{project}/"
        self._missed(f"page {project}")
        try:
            text = _fetch(url).decode("utf-8")
        except urllib.error.HTTPError as error:
            if error.code == HTTPStatus.NOT_FOUND:
                return None
            raise
        body = gzip.compress(rewrite_links(text, url).encode(), mtime=0)
        _write_atomically(kept, body)
        return body

    def file(self, path: str) -> Path | None:
        """A file by its path below f/ (`<host>/<path>`); None when the index lacks it too."""
        if path.startswith("local/"):
            return self.local.get(path.removeprefix("local/"))
        kept = self.cache / "f" / path
        if ".." in Path(path).parts:
            return None
        if kept.is_file():
            return kept
        if self.upstream is None:
            return None
        self._missed(f"file {path.rsplit('/', 1)[-1]}")
        try:
            body = _fetch(f"https://{urllib.parse.quote(path, safe='/')}")
        except urllib.error.HTTPError as error:
            if error.code == HTTPStatus.NOT_FOUND:
                return None
            raise
        _write_atomically(kept, body)
        return kept


def _local_page(project: str, files: list[Path]) -> str:
    rows = []
    for path in sorted(files):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        href = f"../../f/local/{urllib.parse.quote(path.name)}#sha256={digest}"
        rows.append(f'    <a href="{html.escape(href)}">{html.escape(path.name)}</a><br/>')
    body = "\n".join(rows)
    return f"<!DOCTYPE html>\n<html><body><h1>Links for {project}</h1>\n{body}\n</body></html>\n"


def _fetch(url: str) -> bytes:
    """GET from the index (through this machine's network and its CA bundle)."""
    request = urllib.request.Request(url, headers={"User-Agent": "poetry-ci-image-benchmark"})
    with urllib.request.urlopen(request, timeout=UPSTREAM_TIMEOUT) as response:
        data: bytes = response.read()
    return data


def _write_atomically(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    part.write_bytes(body)
    part.replace(path)


def _handler(mirror: IndexMirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "benchmark-index-mirror/1.0"

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def _answer(self, *, body: bool) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if path.startswith("/simple/") and path.count("/") == 3 and path.endswith("/"):
                name = path.split("/")[2]
                if name != normalize_name(name):
                    self._status(HTTPStatus.MOVED_PERMANENTLY, f"/simple/{normalize_name(name)}/")
                    return
                self._page(name, body)
            elif path.startswith("/simple/") and path.count("/") == 2:
                self._status(HTTPStatus.MOVED_PERMANENTLY, f"{path}/")
            elif path.startswith("/f/"):
                self._file(path.removeprefix("/f/"), body)
            else:
                self._status(HTTPStatus.NOT_FOUND)

        def _page(self, name: str, body: bool) -> None:
            page = mirror.page(name)
            if page is None:
                self._status(HTTPStatus.NOT_FOUND)
                return
            tag = f'"{hashlib.sha256(page).hexdigest()[:32]}"'
            if tag in self.headers.get("If-None-Match", ""):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", tag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            zipped = "gzip" in self.headers.get("Accept-Encoding", "")
            data = page if zipped else gzip.decompress(page)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("ETag", tag)
            if zipped:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _file(self, path: str, body: bool) -> None:
            file = mirror.file(path)
            if file is None:
                self._status(HTTPStatus.NOT_FOUND)
                return
            size = file.stat().st_size
            wanted = byte_range(self.headers.get("Range"), size)
            first, last = wanted if wanted is not None else (0, size - 1)
            self.send_response(HTTPStatus.OK if wanted is None else HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Cache-Control", "max-age=365000000, immutable, public")
            if wanted is not None:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Content-Length", str(last - first + 1))
            self.end_headers()
            if body and size:
                self.wfile.flush()
                with file.open("rb") as source:
                    self.connection.sendfile(source, first, last - first + 1)

        def _status(self, status: HTTPStatus, location: str | None = None) -> None:
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
