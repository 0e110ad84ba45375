"""What runs beside the benchmark while it measures (a throttling proxy, an index mirror, a new
Docker engine): started, stopped, and a context manager of both."""

from __future__ import annotations

from typing import TypeVar


S = TypeVar("S", bound="Service")


class Service:
    def start(self: S) -> S:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
