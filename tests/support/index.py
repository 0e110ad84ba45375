"""A PEP 503 "simple" package index served over HTTP on 127.0.0.1 from a directory of files.

The listing is computed on every request, so files written after start are served. Links carry a
``#sha256=`` fragment, which is where pip and Poetry take hashes from. With a username and password,
every request without the matching ``Authorization: Basic`` header is answered 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import sys
import threading
import urllib.parse

from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType


DISTRIBUTION_SUFFIXES = (".whl", ".tar.gz", ".zip")


def normalize_name(name: str) -> str:
    """The PEP 503 normalized form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(filename: str) -> str | None:
    """The normalized project name of a distribution file name, or None if it is not one."""
    if filename.endswith(".whl"):
        return normalize_name(filename.split("-", 1)[0])
    for suffix in (".tar.gz", ".zip"):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            if "-" not in stem:
                return None
            return normalize_name(stem.rsplit("-", 1)[0])
    return None


@dataclass(frozen=True)
class SeenRequest:
    """One request the index answered: method, path (with query) and whether it was authorized."""

    method: str
    path: str
    authorized: bool


class PackageIndex:
    """A PEP 503 index of the distribution files in ``files_dir``, on an OS-chosen loopback port.

    Pages: ``/simple/`` (projects), ``/simple/<normalized-name>/`` (files, with sha256
    fragments and optional ``data-requires-python``) and ``/files/<filename>`` (the file).
    """

    def __init__(
        self,
        files_dir: Path,
        *,
        username: str | None = None,
        password: str | None = None,
        requires_python: Mapping[str, str] | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.files_dir = Path(files_dir)
        self.username = username
        self._expected_auth: bytes | None = None
        if username is not None and password is not None:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self._expected_auth = f"Basic {token}".encode()
        self.requires_python: dict[str, str] = dict(requires_python or {})
        self._requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Life cycle ---------------------------------------------------------------------------------

    def start(self) -> PackageIndex:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the index is already started")
        server = _Server(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, name="package-index", kwargs={"poll_interval": 0.05}
        )
        thread.daemon = True
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; harmless if not started."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> PackageIndex:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Addresses ----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the index listens on."""
        if self._server is None:
            raise RuntimeError("the index is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The simple index URL, ``http://127.0.0.1:<port>/simple/``."""
        return f"{self.base_url}/simple/"

    def file_url(self, filename: str) -> str:
        """The absolute URL of one distribution file."""
        return f"{self.base_url}/files/{urllib.parse.quote(filename)}"

    # Requests seen ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[SeenRequest]:
        """A copy of the requests answered so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self._requests.clear()

    def _record(self, request: SeenRequest) -> None:
        with self._lock:
            self._requests.append(request)

    # Contents -----------------------------------------------------------------------------------

    def distributions(self) -> dict[str, list[Path]]:
        """Normalized project name -> its distribution files, read from disk now."""
        projects: dict[str, list[Path]] = {}
        if not self.files_dir.is_dir():
            return projects
        for path in sorted(self.files_dir.iterdir()):
            if not path.is_file() or not path.name.endswith(DISTRIBUTION_SUFFIXES):
                continue
            project = project_of(path.name)
            if project is not None:
                projects.setdefault(project, []).append(path)
        return projects

    def _authorized(self, header: str | None) -> bool:
        if self._expected_auth is None:
            return True
        if header is None:
            return False
        return hmac.compare_digest(header.strip().encode(), self._expected_auth)

    def _root_page(self) -> str:
        links = "\n".join(
            f'    <a href="{html.escape(name)}/">{html.escape(name)}</a><br/>'
            for name in sorted(self.distributions())
        )
        return _page("Simple index", links)

    def _project_page(self, project: str) -> str | None:
        files = self.distributions().get(project)
        if files is None:
            return None
        rows = []
        for path in files:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            href = f"../../files/{urllib.parse.quote(path.name)}#sha256={digest}"
            attributes = f'href="{html.escape(href)}"'
            requires_python = self.requires_python.get(path.name)
            if requires_python is not None:
                attributes += f' data-requires-python="{html.escape(requires_python)}"'
            rows.append(f"    <a {attributes}>{html.escape(path.name)}</a><br/>")
        return _page(f"Links for {project}", "\n".join(rows))


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}\n  </body>\n</html>\n"
    )


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a download cancelled, a retry) is not news; the rest is."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _make_handler(index: PackageIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "test-package-index/1.0"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: requests are kept in ``index.requests`` instead."""

        def _answer(self, *, send_body: bool) -> None:
            authorized = index._authorized(self.headers.get("Authorization"))
            index._record(SeenRequest(self.command, self.path, authorized))
            if not authorized:
                self._send(
                    HTTPStatus.UNAUTHORIZED,
                    b"authentication required\n",
                    "text/plain",
                    send_body,
                    {"WWW-Authenticate": 'Basic realm="index"'},
                )
                return
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if path in ("/simple", "/simple/"):
                if path == "/simple":
                    self._redirect("/simple/", send_body)
                    return
                self._send_html(index._root_page(), send_body)
                return
            if path.startswith("/simple/"):
                name = path[len("/simple/") :]
                if not name.endswith("/"):
                    self._redirect(f"/simple/{urllib.parse.quote(name)}/", send_body)
                    return
                project = name.rstrip("/")
                page = index._project_page(normalize_name(project))
                if page is None:
                    self._not_found(send_body)
                elif project != normalize_name(project):
                    self._redirect(f"/simple/{normalize_name(project)}/", send_body)
                else:
                    self._send_html(page, send_body)
                return
            if path.startswith("/files/"):
                self._send_file(path[len("/files/") :], send_body)
                return
            self._not_found(send_body)

        def _send_file(self, filename: str, send_body: bool) -> None:
            files = {p.name: p for paths in index.distributions().values() for p in paths}
            file = files.get(filename)
            if file is None:
                self._not_found(send_body)
                return
            zipped = filename.endswith((".whl", ".zip"))
            content_type = "application/zip" if zipped else "application/gzip"
            self._send(HTTPStatus.OK, file.read_bytes(), content_type, send_body)

        def _send_html(self, page: str, send_body: bool) -> None:
            self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8", send_body)

        def _not_found(self, send_body: bool) -> None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", send_body)

        def _redirect(self, location: str, send_body: bool) -> None:
            self._send(
                HTTPStatus.MOVED_PERMANENTLY,
                b"",
                "text/plain",
                send_body,
                {"Location": location},
            )

        def _send(
            self,
            status: HTTPStatus,
            body: bytes,
            content_type: str,
            send_body: bool,
            headers: Mapping[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if send_body:
                self.wfile.write(body)

    return Handler
