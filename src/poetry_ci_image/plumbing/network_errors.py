"""What a failed connection was, in words a person can act on.

requests wraps urllib3, which wraps the socket's error, and the text at the top is a paragraph
of reprs ("HTTPConnectionPool(host='127.0.0.1', port=5999): Max retries exceeded with url: ...
(Caused by NewConnectionError(...))"). Poetry wraps that again ("All attempts to connect to ...
failed."). `connection_failure` walks the chain (causes, contexts, the exceptions urllib3 keeps
in its arguments and `reason`) and names the cause; `connection_hint` says what to check.
"""

from __future__ import annotations

import re
import socket
import ssl

from typing import TYPE_CHECKING

from poetry_ci_image.plumbing.urls import hide_credentials


if TYPE_CHECKING:
    from collections.abc import Iterator


MAX_TEXT = 200  # the longest exception text quoted when no cause is recognised

UNTRUSTED = "the server's TLS certificate is not trusted"
REFUSED = "the server's TLS certificate was refused"
CERTIFICATE_HINT = (
    "If HTTPS goes through a proxy with its own certificate authority, point REQUESTS_CA_BUNDLE "
    "(or Poetry's `certificates.<source>.cert`) at a bundle that holds it."
)
REFUSED_CERTIFICATE_HINT = "Check the server's certificate: the host name it is for, its dates."

# OpenSSL's verify codes that mean "no trusted issuer": a private or intercepting CA
_UNKNOWN_ISSUER = frozenset({2, 18, 19, 20, 21})  # ..._ISSUER_CERT, SELF_SIGNED, LEAF_SIGNATURE


def connection_failure(error: BaseException) -> str:
    """The cause of a failed connection: `connection refused`, `the host name does not
    resolve`, `the server's TLS certificate is not trusted (...)`, ...; else the innermost
    system error's words, else the error's own text (without credentials, at most `MAX_TEXT`
    characters)."""
    chain = list(_chain(error))
    for link in chain:
        if isinstance(link, ssl.SSLCertVerificationError):
            if link.verify_code in _UNKNOWN_ISSUER:
                return f"{UNTRUSTED} ({link.verify_message})"
            return f"{REFUSED} ({link.verify_message})"
    for link in chain:
        if isinstance(link, ssl.SSLError):
            return f"the TLS handshake failed ({link.reason or link})"
        if isinstance(link, socket.gaierror):
            if link.errno == socket.EAI_AGAIN:
                return "the host name could not be resolved now (a temporary DNS failure)"
            return "the host name does not resolve"
        if isinstance(link, ConnectionRefusedError):
            return "connection refused (nothing listens at that address and port)"
        if isinstance(link, ConnectionResetError):
            return "the connection was reset"
        if isinstance(link, TimeoutError) or type(link).__name__ in _TIMEOUTS:
            return "the connection timed out"
    system = [link for link in chain if isinstance(link, OSError) and link.strerror]
    if system:  # the innermost: "Network is unreachable", "No route to host", a full disk, ...
        innermost = system[-1]
        words = str(innermost.strerror)
        words = words[:1].lower() + words[1:]
        return f"{words}: {innermost.filename}" if innermost.filename else words
    text = " ".join(_BARE_CREDENTIALS.sub("***@", hide_credentials(str(error))).split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def connection_hint(error: BaseException, otherwise: str) -> str:
    """What to do: about certificates when one was not accepted, else `otherwise`."""
    for link in _chain(error):
        if isinstance(link, ssl.SSLCertVerificationError):
            if link.verify_code in _UNKNOWN_ISSUER:
                return CERTIFICATE_HINT
            return REFUSED_CERTIFICATE_HINT
    return otherwise


def is_certificate_failure(error: BaseException) -> bool:
    """Whether a certificate was not accepted: no retry makes that work."""
    return any(isinstance(link, ssl.SSLCertVerificationError) for link in _chain(error))


def is_permanent(error: BaseException) -> bool:
    """Whether no retry can make the connection work: a certificate refused, a host name that
    does not exist (a DNS server's temporary failure is worth another try)."""
    return is_certificate_failure(error) or any(
        isinstance(link, socket.gaierror) and link.errno != socket.EAI_AGAIN
        for link in _chain(error)
    )


# `user:secret@host` without a scheme, as Poetry writes a netloc ("... connect to <netloc>")
_BARE_CREDENTIALS = re.compile(r"[^\s/@:'\"]+:[^\s/@'\"]+@")

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
