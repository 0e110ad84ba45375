"""URLs and messages without credentials: what may be printed, labelled or fingerprinted."""

from __future__ import annotations

import re

from urllib.parse import urlsplit
from urllib.parse import urlunsplit


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x` -> `https://host/x`; other URLs unchanged."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def hide_credentials(text: str) -> str:
    """Any `scheme://user:secret@` in `text` becomes `scheme://***@`."""
    return re.sub(r"(https?://)[^/@\s]+@", r"\1***@", text)
