"""A loopback HTTP reverse proxy in front of a real Docker registry, with faults on demand.

``RegistryProxy`` forwards every request to an upstream registry (``tests.support.registry``)
and streams bodies both ways, so a registry client under test can be pointed at it and made to
see what real networks and registries do (``Fault``): error statuses, ``429`` with
``Retry-After``, connection resets, and uploads cut off half-way. The client's ``Host`` header is
kept, so the absolute upload URLs the registry builds from it lead back through the proxy; a
``Location`` that names the upstream itself is rewritten to the proxy.

With ``token_auth=True`` the proxy plays Docker Hub's anonymous bearer-token flow in front of an
open upstream: ``/v2/`` requests without a token it issued get a ``401`` challenge naming
``/token`` on the proxy, which hands out tokens valid for the scopes asked for.

The upstream side uses ``http.client``, one connection per forwarded request, and never a proxy
from the environment.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import http.client
import json
import re
import secrets
import socket
import struct
import threading
import urllib.parse

from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import NamedTuple
from typing import get_args


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Mapping
    from types import TracebackType


FaultKind = Literal["status", "retry-after", "reset", "drop-mid-body", "hold"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

TOKEN_SERVICE = "registry.docker.io"
TOKEN_LIFETIME = 300
UPSTREAM_TIMEOUT = 60.0
IDLE_TIMEOUT = 60.0
CHUNK_SIZE = 64 * 1024

INJECTED_ERROR = b'{"errors":[{"code":"UNKNOWN","message":"injected"}]}'
INJECTED_RATE_LIMIT = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"injected"}]}'

# RFC 9110 section 7.6.1, plus the headers a proxy must not pass on either way.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

_REPOSITORY_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:manifests|blobs|tags|referrers)/")


@dataclass(frozen=True)
class Fault:
    """Fail the next ``times`` requests that match ``method`` and ``path``, then let them pass.

    ``kind`` is ``"status"`` (answer ``status`` with a registry-style JSON error), ``"retry-after"``
    (answer 429 with ``Retry-After: <retry_after>``), ``"reset"`` (reset the connection without
    an answer), ``"drop-mid-body"`` (read about half of the request body, then reset: half the
    ``Content-Length``, or half the first chunk of a chunked body; only requests with a body
    match) or ``"hold"`` (read the request, set ``holding`` and answer nothing until
    ``release()`` or the proxy stops, then reset: a step that cannot finish, to interrupt).
    ``method`` is compared case-insensitively; ``path`` is a regular expression searched
    in the request target (path and query). None matches anything. A faulted request never
    reaches the upstream. Faults are looked at first, before Docker Hub mode's token checks, so
    they apply to ``/token`` and to requests without a token too.
    """

    kind: FaultKind
    method: str | None = None
    path: str | None = None
    times: int = 1
    status: int = 500
    retry_after: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}: use one of {', '.join(FAULT_KINDS)}"
            )
        if self.times < 1:
            raise ValueError(f"times must be at least 1, not {self.times}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status (100-599), not {self.status}")
        if self.path is not None:
            re.compile(self.path)

    def matches(self, method: str, target: str, *, has_body: bool) -> bool:
        """Whether a request (``method``, ``target`` with query) falls under this rule."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is not None and re.search(self.path, target) is None:
            return False
        return has_body or self.kind != "drop-mid-body"


@dataclass(frozen=True)
class SeenRequest:
    """One request the proxy handled: method, target (path with query), the status the client
    was sent (None if its connection was reset instead) and whether a ``Fault`` decided it."""

    method: str
    path: str
    status: int | None
    faulted: bool


class TokenRequest(NamedTuple):
    """One ``GET /token`` in Docker Hub mode: the ``service`` and ``scope`` parameters asked for
    (scopes in order, space-separated ones split) and whether it carried Basic credentials."""

    service: str | None
    scopes: list[str]
    had_basic_auth: bool


@dataclass(frozen=True)
class _Scope:
    """The access a ``/v2/<name>/...`` request needs: a repository and its actions."""

    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"repository:{self.name}:{','.join(sorted(self.actions))}"


def _required_scope(method: str, path: str) -> _Scope | None:
    """The scope Docker Hub asks for ``method`` on ``path`` (no query), None for ``/v2/`` itself.

    Reads (GET, HEAD) need ``pull``; anything else needs ``pull,push``.
    """
    found = _REPOSITORY_PATH.match(path)
    if found is None:
        return None
    actions = {"pull"} if method in ("GET", "HEAD") else {"pull", "push"}
    return _Scope(found["name"], frozenset(actions))


def _grants(scopes: Iterable[str]) -> dict[str, frozenset[str]]:
    """Repository name -> actions, from scope strings like ``repository:team/app:pull,push``."""
    granted: dict[str, frozenset[str]] = {}
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) < 3 or parts[0] != "repository":
            continue
        name = ":".join(parts[1:-1])
        actions = frozenset(action for action in parts[-1].split(",") if action)
        granted[name] = granted.get(name, frozenset()) | actions
    return granted


@dataclass
class _Armed:
    """A fault and how many more requests it will fail."""

    fault: Fault
    left: int


class RegistryProxy:
    """A reverse proxy to the registry at ``upstream`` (``host:port``) on a free loopback port.

    ``fail()`` arms faults and ``requests`` lists what was handled; both are safe to use from the
    test thread while the proxy serves. ``token_auth=True`` turns on Docker Hub mode;
    ``token_credentials`` then makes ``/token`` require that Basic auth.
    """

    def __init__(
        self,
        upstream: str,
        *,
        token_auth: bool = False,
        token_credentials: tuple[str, str] | None = None,
    ) -> None:
        if token_credentials is not None and not token_auth:
            raise ValueError("token_credentials needs token_auth=True")
        self.upstream = upstream.removeprefix("http://").rstrip("/")
        self.token_auth = token_auth
        self.token_credentials = token_credentials
        self._expected_basic: bytes | None = None
        if token_credentials is not None:
            user, password = token_credentials
            encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self._expected_basic = f"Basic {encoded}".encode()
        self._lock = threading.Lock()
        self._faults: list[_Armed] = []
        self._requests: list[SeenRequest] = []
        self._token_requests: list[TokenRequest] = []
        self._tokens: dict[str, dict[str, frozenset[str]]] = {}
        self._connections: set[socket.socket] = set()
        self.holding = threading.Event()  # a "hold" fault holds a request now
        self._sent = 0  # bytes of response bodies relayed to clients
        self._sent_to: dict[str, int] = {}  # the same, by request path
        self._released = threading.Event()
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    # Life cycle ---------------------------------------------------------------------------------

    def start(self) -> RegistryProxy:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the proxy is already started")
        server = _ProxyServer(self)
        thread = threading.Thread(
            target=server.serve_forever, name="registry-proxy", kwargs={"poll_interval": 0.05}
        )
        thread.daemon = True
        thread.start()
        self._server, self._thread = server, thread
        return self

    @property
    def sent(self) -> int:
        """Bytes of response bodies relayed to clients so far: what a client pulled."""
        with self._lock:
            return self._sent

    def sent_to(self) -> dict[str, int]:
        """Bytes of response bodies relayed so far, by request path (without the query): what
        a client pulled of each manifest and blob."""
        with self._lock:
            return dict(self._sent_to)

    def _count(self, size: int, target: str) -> None:
        path = target.partition("?")[0]
        with self._lock:
            self._sent += size
            self._sent_to[path] = self._sent_to.get(path, 0) + size

    def release(self) -> None:
        """Let held requests go (their connections are reset)."""
        self._released.set()

    def stop(self) -> None:
        """Stop serving, cut open client connections, close the socket; harmless if not started."""
        self.release()
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> RegistryProxy:
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
        """The port the proxy listens on."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, the registry part of image references through the proxy."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}"

    @property
    def token_realm(self) -> str:
        """The token endpoint of Docker Hub mode, ``http://127.0.0.1:<port>/token``."""
        return f"{self.url}/token"

    # Faults -------------------------------------------------------------------------------------

    def fail(self, fault: Fault) -> None:
        """Arm ``fault`` for its next ``times`` matches; of several that match, the first armed."""
        with self._lock:
            self._faults.append(_Armed(fault, fault.times))

    def clear_faults(self) -> None:
        """Disarm every fault; requests pass from now on."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, target: str, *, has_body: bool) -> Fault | None:
        with self._lock:
            for armed in self._faults:
                if armed.fault.matches(method, target, has_body=has_body):
                    armed.left -= 1
                    if armed.left == 0:
                        self._faults.remove(armed)
                    return armed.fault
        return None

    # Requests seen ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[SeenRequest]:
        """A copy of the requests handled so far, in the order they were answered."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self._requests.clear()

    @property
    def token_requests(self) -> list[TokenRequest]:
        """A copy of the ``GET /token`` requests of Docker Hub mode so far, oldest first."""
        with self._lock:
            return [
                request._replace(scopes=list(request.scopes)) for request in self._token_requests
            ]

    def clear_token_requests(self) -> None:
        """Forget the token requests seen so far."""
        with self._lock:
            self._token_requests.clear()

    def _record(self, request: SeenRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _record_token_request(self, request: TokenRequest) -> None:
        with self._lock:
            self._token_requests.append(request)

    def _track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # Docker Hub mode ----------------------------------------------------------------------------

    def _challenge(self, scope: _Scope | None) -> str:
        value = f'Bearer realm="{self.token_realm}",service="{TOKEN_SERVICE}"'
        if scope is not None:
            value += f',scope="{scope}"'
        return value

    def _credentials_ok(self, authorization: str | None) -> bool:
        if self._expected_basic is None:
            return True
        if authorization is None:
            return False
        return hmac.compare_digest(authorization.strip().encode(), self._expected_basic)

    def _issue_token(self, scopes: Iterable[str]) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = _grants(scopes)
        return token

    def _token_allows(self, authorization: str | None, scope: _Scope | None) -> bool:
        if authorization is None:
            return False
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self._lock:
            granted = self._tokens.get(token.strip())
        if granted is None:
            return False
        return scope is None or scope.actions <= granted.get(scope.name, frozenset())

    def _rewrite_location(self, location: str) -> str:
        prefix = f"http://{self.upstream}"
        rest = location[len(prefix) :]
        if location.startswith(prefix) and (rest == "" or rest[0] in "/?#"):
            return f"{self.url}{rest}"
        return location


class _ProxyServer(ThreadingHTTPServer):
    """The listening side: a thread per client connection, each knowing its ``RegistryProxy``."""

    daemon_threads = True

    def __init__(self, proxy: RegistryProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ClientGone(Exception):
    """The client hung up, or garbled its body, before the whole request was read."""


class _ProxyHandler(BaseHTTPRequestHandler):
    """One client connection: each request is faulted, challenged, answered or forwarded."""

    server_version = "test-registry-proxy/1.0"
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    _recorded = False

    @property
    def proxy(self) -> RegistryProxy:
        server = self.server
        if not isinstance(server, _ProxyServer):
            raise TypeError("the handler runs outside a RegistryProxy")
        return server.proxy

    def setup(self) -> None:
        super().setup()
        self.proxy._track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.proxy._track(self.connection, open_=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: requests are kept in ``proxy.requests`` instead."""

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # Dispatch -----------------------------------------------------------------------------------

    def _handle(self) -> None:
        proxy = self.proxy
        self._recorded = False
        fault = proxy._take_fault(self.command, self.path, has_body=self._has_body())
        path = urllib.parse.urlsplit(self.path).path
        try:
            if fault is not None:
                self._inject(fault)
            elif proxy.token_auth and path == "/token":
                self._token_endpoint()
            elif proxy.token_auth and (path == "/v2" or path.startswith("/v2/")):
                scope = _required_scope(self.command, path)
                if proxy._token_allows(self.headers.get("Authorization"), scope):
                    self._forward()
                else:
                    self._challenge(scope)
            else:
                self._forward()
        except (_ClientGone, OSError, http.client.HTTPException):
            self.close_connection = True
            if not self._recorded:
                self._record(None, faulted=fault is not None)

    def _record(self, status: int | None, *, faulted: bool = False) -> None:
        self._recorded = True
        self.proxy._record(SeenRequest(self.command, self.path, status, faulted))

    # Faults -------------------------------------------------------------------------------------

    def _inject(self, fault: Fault) -> None:
        if fault.kind == "hold":
            self._discard_body()
            self.proxy.holding.set()
            self.proxy._released.wait()
            self._record(None, faulted=True)
            self._reset()
            return
        if fault.kind == "reset":
            self._record(None, faulted=True)
            self._reset()
            return
        if fault.kind == "drop-mid-body":
            self._read_half_body()
            self._record(None, faulted=True)
            self._reset()
            return
        self._discard_body()
        if fault.kind == "retry-after":
            retry = {"Retry-After": str(fault.retry_after)}
            self._answer(HTTPStatus.TOO_MANY_REQUESTS, INJECTED_RATE_LIMIT, retry, faulted=True)
        else:
            self._answer(fault.status, INJECTED_ERROR, faulted=True)

    def _reset(self) -> None:
        """Close the client connection with SO_LINGER 0, so the client sees a reset (RST)."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket closes for real only once its file objects are closed
        self.connection.close()

    def _read_half_body(self) -> None:
        try:
            count = self._chunk_size() // 2 if self._chunked() else self._content_length() // 2
            for _ in self._read(count):
                pass
        except _ClientGone:
            pass

    # Docker Hub mode ----------------------------------------------------------------------------

    def _token_endpoint(self) -> None:
        proxy = self.proxy
        self._discard_body()
        if self.command != "GET":
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, b"", {"Allow": "GET"}, "text/plain")
            return
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        services = query.get("service")
        service = services[0] if services else None
        scopes = [scope for value in query.get("scope", []) for scope in value.split()]
        authorization = self.headers.get("Authorization")
        had_basic = authorization is not None and authorization.lower().startswith("basic ")
        proxy._record_token_request(TokenRequest(service, scopes, had_basic))
        if not proxy._credentials_ok(authorization):
            self._answer(
                HTTPStatus.UNAUTHORIZED,
                b'{"details":"incorrect username or password"}',
                {"WWW-Authenticate": f'Basic realm="{proxy.token_realm}"'},
            )
            return
        token = proxy._issue_token(scopes)
        issued_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_LIFETIME,
            "issued_at": issued_at,
        }
        self._answer(HTTPStatus.OK, json.dumps(body).encode())

    def _challenge(self, scope: _Scope | None) -> None:
        self._discard_body()
        error: dict[str, object] = {
            "code": "UNAUTHORIZED",
            "message": "authentication required",
            "detail": None,
        }
        if scope is not None:
            error["detail"] = [
                {"Type": "repository", "Name": scope.name, "Action": action}
                for action in sorted(scope.actions)
            ]
        self._answer(
            HTTPStatus.UNAUTHORIZED,
            json.dumps({"errors": [error]}).encode(),
            {
                "WWW-Authenticate": self.proxy._challenge(scope),
                "Docker-Distribution-Api-Version": "registry/2.0",
            },
        )

    # Answers of the proxy's own -----------------------------------------------------------------

    def _answer(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        *,
        faulted: bool = False,
    ) -> None:
        self._record(int(status), faulted=faulted)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # Forwarding ---------------------------------------------------------------------------------

    def _forward(self) -> None:
        upstream = http.client.HTTPConnection(self.proxy.upstream, timeout=UPSTREAM_TIMEOUT)
        try:
            try:
                self._send_upstream(upstream)
                response = upstream.getresponse()
            except (OSError, http.client.HTTPException) as error:
                self.close_connection = True  # the client's body may be half read
                message = f"upstream {self.proxy.upstream}: {error}"
                body = {"errors": [{"code": "UNKNOWN", "message": message}]}
                self._answer(HTTPStatus.BAD_GATEWAY, json.dumps(body).encode())
                return
            self._relay(response)
        finally:
            upstream.close()

    def _send_upstream(self, upstream: http.client.HTTPConnection) -> None:
        chunked = self._chunked()
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self._upstream_headers(chunked=chunked):
            upstream.putheader(name, value)
        upstream.endheaders()
        for piece in self._body():
            upstream.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            upstream.send(b"0\r\n\r\n")

    def _upstream_headers(self, *, chunked: bool) -> Iterator[tuple[str, str]]:
        dropped = (
            HOP_BY_HOP | _connection_tokens(self.headers.get_all("Connection", [])) | {"expect"}
        )
        if chunked:
            dropped |= {"content-length"}
        if self.proxy.token_auth:
            dropped |= {"authorization"}
        for name, value in self.headers.items():
            if name.lower() not in dropped:
                yield name, value
        if "Host" not in self.headers:
            yield "Host", self.proxy.host
        if chunked:
            yield "Transfer-Encoding", "chunked"

    def _relay(self, response: http.client.HTTPResponse) -> None:
        """Send the upstream's status, end-to-end headers and body on to the client, streaming."""
        self._record(response.status)
        self.send_response_only(response.status, response.reason)
        dropped = HOP_BY_HOP | _connection_tokens(response.headers.get_all("Connection", []))
        for name, value in response.getheaders():
            if name.lower() in dropped:
                continue
            if name.lower() == "location":
                value = self.proxy._rewrite_location(value)
            self.send_header(name, value)
        length = response.getheader("Content-Length")
        if self.command == "HEAD" or response.status in (204, 304) or response.status < 200:
            self.end_headers()
        elif length is not None:
            self.end_headers()
            if self._copy(response) != int(length):
                self.close_connection = True  # the upstream cut its body short; so must we
        elif self.request_version == "HTTP/1.0":
            self.send_header("Connection", "close")
            self.end_headers()
            self._copy(response)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in iter(lambda: response.read(CHUNK_SIZE), b""):
                self.proxy._count(len(piece), self.path)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")

    def _copy(self, response: http.client.HTTPResponse) -> int:
        copied = 0
        for piece in iter(lambda: response.read(CHUNK_SIZE), b""):
            self.proxy._count(len(piece), self.path)
            self.wfile.write(piece)
            copied += len(piece)
        return copied

    # The client's request body ------------------------------------------------------------------

    def _chunked(self) -> bool:
        encodings = ",".join(self.headers.get_all("Transfer-Encoding", []))
        return "chunked" in encodings.lower()

    def _content_length(self) -> int:
        try:
            return max(int(self.headers.get("Content-Length", "0")), 0)
        except ValueError:
            return 0

    def _has_body(self) -> bool:
        return self._chunked() or self._content_length() > 0

    def _body(self) -> Iterator[bytes]:
        """The request body in pieces, de-chunked if it came chunked."""
        if not self._chunked():
            yield from self._read(self._content_length())
            return
        while (size := self._chunk_size()) > 0:
            yield from self._read(size)
            self._read_line()  # the CRLF after the chunk's data
        while self._read_line() not in (b"\r\n", b"\n"):  # trailer fields up to an empty line
            pass

    def _discard_body(self) -> None:
        for _ in self._body():
            pass

    def _chunk_size(self) -> int:
        line = self._read_line()
        try:
            return int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _ClientGone(f"bad chunk size line {line!r}") from None

    def _read_line(self) -> bytes:
        try:
            line = self.rfile.readline(CHUNK_SIZE)
        except OSError as error:
            raise _ClientGone(str(error)) from error
        if not line.endswith(b"\n"):
            raise _ClientGone("the body ended inside a line")
        return line

    def _read(self, count: int) -> Iterator[bytes]:
        while count > 0:
            try:
                piece = self.rfile.read(min(count, CHUNK_SIZE))
            except OSError as error:
                raise _ClientGone(str(error)) from error
            if not piece:
                raise _ClientGone(f"the body ended {count} bytes early")
            count -= len(piece)
            yield piece


def _connection_tokens(values: Iterable[str]) -> frozenset[str]:
    """The header names a ``Connection`` header lists, which are hop-by-hop too."""
    return frozenset(
        token.strip().lower() for value in values for token in value.split(",") if token.strip()
    )
