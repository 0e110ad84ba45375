"""What a failed connection was, in words a person can act on.

requests wraps urllib3, which wraps the socket's error, and the text at the top is a paragraph
of reprs ("HTTPConnectionPool(host='127.0.0.1', port=5999): Max retries exceeded with url: ...
(Caused by NewConnectionError(...))"). Poetry wraps that again ("All attempts to connect to ...
failed."). `connection_failure` walks the chain (causes, contexts, the exceptions urllib3 keeps
in its arguments and `reason`) and names the cause; `connection_hint` says what to check.
"""

from __future__ import annotations

import socket
import ssl

from typing import TYPE_CHECKING

from poetry_ci_image.urls import hide_credentials


if TYPE_CHECKING:
    from collections.abc import Iterator


MAX_TEXT = 200  # the longest exception text quoted when no cause is recognised

UNTRUSTED = "the server's TLS certificate is not trusted"
CERTIFICATE_HINT = (
    "If HTTPS goes through a proxy with its own certificate authority, point REQUESTS_CA_BUNDLE "
    "(or Poetry's `certificates.<source>.cert`) at a bundle that holds it."
)


def connection_failure(error: BaseException) -> str:
    """The cause of a failed connection: `connection refused`, `the host name does not
    resolve`, `the server's TLS certificate is not trusted (...)`, ...; else the error's own
    text (without credentials, at most `MAX_TEXT` characters)."""
    chain = list(_chain(error))
    for link in chain:
        if isinstance(link, ssl.SSLCertVerificationError):
            return f"{UNTRUSTED} ({link.verify_message})"
    for link in chain:
        if isinstance(link, ssl.SSLError):
            return f"the TLS handshake failed ({link.reason or link})"
        if isinstance(link, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(link, ConnectionRefusedError):
            return "connection refused (nothing listens at that address and port)"
        if isinstance(link, ConnectionResetError):
            return "the connection was reset"
        if isinstance(link, TimeoutError) or type(link).__name__ in _TIMEOUTS:
            return "the connection timed out"
    text = " ".join(hide_credentials(str(error)).split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def connection_hint(error: BaseException, otherwise: str) -> str:
    """What to do: about certificates when one was not trusted, else `otherwise`."""
    if any(isinstance(link, ssl.SSLCertVerificationError) for link in _chain(error)):
        return CERTIFICATE_HINT
    return otherwise


# requests' and urllib3's timeouts, matched by name so that neither is imported here
_TIMEOUTS = frozenset({"Timeout", "ConnectTimeout", "ReadTimeout", "ConnectTimeoutError"})


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception it carries, outermost first, each once."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        link = todo.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        carried = [link.__cause__, link.__context__, getattr(link, "reason", None), *link.args]
        todo += [item for item in carried if isinstance(item, BaseException)]
