"""Progress of a run: lines a person follows the work by, and the steps it took, timed.

`Reporter` is what every part reports to: `status` for a line a person follows the work by,
`detail` for one shown with -v only (each download, each layer, each blob, each retry). The
commands are the real reporters; `SILENT` reports nothing. `Timeline` times the steps of a run
(`with timeline.step("fetch"): ...`), for `poetry image push --json` and the benchmarks.
"""

from __future__ import annotations

import contextlib
import threading
import time

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Protocol


if TYPE_CHECKING:
    from collections.abc import Iterator


class Reporter(Protocol):
    def status(self, message: str) -> None:
        """A line a person follows the work by."""

    def detail(self, message: str) -> None:
        """A line shown with -v only."""


class _Silent:
    def status(self, message: str) -> None:
        pass

    def detail(self, message: str) -> None:
        pass


SILENT: Reporter = _Silent()


@dataclass(frozen=True)
class Step:
    """One step of a run: when it started and ended, in seconds since the run began."""

    name: str
    start: float
    end: float
    track: str = "main"  # "main", or the name of the background work it belongs to

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "track": self.track,
            "start": round(self.start, 3),
            "seconds": round(self.seconds, 3),
        }


class Timeline:
    """The steps of one run, timed from when it was made; safe to use from several threads."""

    def __init__(self) -> None:
        self._origin = time.monotonic()
        self._steps: list[Step] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self._origin

    @contextlib.contextmanager
    def step(self, name: str, track: str = "main") -> Iterator[None]:
        start = self.now()
        try:
            yield
        finally:
            with self._lock:
                self._steps.append(Step(name, start, self.now(), track))

    @property
    def steps(self) -> tuple[Step, ...]:
        with self._lock:
            return tuple(sorted(self._steps, key=lambda step: step.start))


def size_text(size: int) -> str:
    """`4.5 MB`, `140 kB`: a size in a message (10^6 and 10^3 bytes)."""
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
