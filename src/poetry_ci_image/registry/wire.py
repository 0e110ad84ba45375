"""What goes over the wire to a registry: its base URL, a manifest as received, a request body
of known length that stops when the run is cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    import threading

    from collections.abc import Iterable
    from collections.abc import Iterator


def base_url(registry_host: str) -> str:
    """`http://` for loopback registries (as the Docker engine does), `https://` otherwise."""
    if registry_host.startswith("["):
        host = registry_host.split("]")[0] + "]"
    else:
        host = registry_host.rsplit(":", 1)[0]
    loopback = host in {"localhost", "[::1]"} or host.startswith("127.")
    return f"{'http' if loopback else 'https'}://{registry_host}"


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str
    digest: str  # sha256 of `body`


class SizedBody:
    """A request body of known length, sent in chunks (requests then sends Content-Length, not
    chunked encoding); stops the upload when the run is cancelled."""

    def __init__(self, chunks: Iterable[bytes], size: int, cancelled: threading.Event) -> None:
        self._chunks = chunks
        self._size = size
        self._cancelled = cancelled

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if self._cancelled.is_set():
                raise KeyboardInterrupt
            yield chunk
