"""What writing every layer of an image shares: its inputs, where wheels come from, the cache,
the run, a work directory, the bytecode, the bases' roots on the host, and threads for work
that can run side by side."""

from __future__ import annotations

import os

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Protocol
from typing import TypeVar


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.image.base_root import BaseRoots
    from poetry_ci_image.image.bytecode.maker import BytecodeMaker
    from poetry_ci_image.image.cache.build_cache import BuildCache
    from poetry_ci_image.image.files import Compile
    from poetry_ci_image.image.spec import BuildSpec
    from poetry_ci_image.run import Run
    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.plan import PlannedPackage


T = TypeVar("T")
R = TypeVar("R")


class Sources(Protocol):
    """Where the plan's wheels come from (poetry/fetch.py: Poetry's cache and credentials)."""

    def wheels(
        self, packages: Sequence[PlannedPackage], target: Target
    ) -> Iterator[tuple[str, Path]]:
        """A wheel per package (sdists and git checkouts built on the host), by name, each as
        soon as it is there."""
        ...

    def poetry_pins(self, target: Target) -> tuple[str, ...] | None:
        """Poetry and its dependencies for the target as the plugin pins them (sorted
        `name==version`, which fixes the wheels for the target's tags); None without pins."""
        ...

    def poetry_wheels(self, target: Target) -> list[Path]:
        """Poetry's wheels (and its dependencies') for the target: the pinned set, if any."""
        ...


@dataclass(frozen=True)
class LayerContext:
    spec: BuildSpec
    sources: Sources
    cache: BuildCache
    run: Run
    workdir: Path
    bytecode: BytecodeMaker
    roots: BaseRoots  # each platform's base root on the host (its Python, apt's files, ...)

    def compiler(self, target: Target) -> Compile | None:
        """What compiles the target's pycs; None with bytecode off."""
        return self.bytecode.compiler(target.platform) if self.bytecode.on else None

    def bytecode_key(self, target: Target) -> list[str] | None:
        """What a layer's bytes owe to bytecode, for its cache key."""
        return self.bytecode.key(target.platform)

    def parallel(self, work: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`work` of each item, in threads, each started as soon as its item is there (`items`
        may be a generator: downloads); an error stops the run's other threads too."""
        with ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="layers") as pool:
            try:
                futures = [pool.submit(work, item) for item in items]
                return [future.result() for future in futures]
            except BaseException:
                self.run.cancelled.set()
                raise


def workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))
