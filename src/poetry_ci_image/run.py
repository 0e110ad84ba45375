"""The run context: what one command run shares, made once by the command and handed down.

Instead of a callback threaded through every call, each step that reports, reads the cache,
speaks to a registry or must stop on Ctrl-C takes the `Run`:

- `reporter`: where status and detail lines go (the command);
- `timeline`: the steps taken, timed (for `poetry image push --json`);
- `registries`: the registries this run speaks to, each opened once, with their credentials;
- `cache_root`: `<cache-dir>/ci-image`, or None with `poetry --no-cache`;
- `cancelled`: set when the run stops (an error in a thread, Ctrl-C), so every thread stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from poetry_ci_image.plumbing.progress import Timeline


if TYPE_CHECKING:
    import threading

    from pathlib import Path

    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.registry.registries import RegistryOpener


@dataclass(frozen=True)
class Run:
    reporter: Reporter
    registries: RegistryOpener
    cache_root: Path | None  # <cache-dir>/ci-image; None: keep nothing between runs
    timeline: Timeline = field(default_factory=Timeline)

    @property
    def cancelled(self) -> threading.Event:
        return self.registries.cancelled
