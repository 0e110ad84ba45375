"""Where the plan's files come from: through Poetry's cache and credentials (fetch.py), within
the Poetry boundary and stopped with the run. The built-in recipe takes wheels (sdists and git
checkouts built on the host); your own Dockerfile takes the files as locked, and a pip for the
target. Poetry's own wheels for the target come from wheels.py: the set the plugin pins for
this Poetry and target (pins.py), where it has one. Poetry is loaded only when something has to
be fetched."""

from __future__ import annotations

import threading

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from poetry_ci_image.poetry.boundary import poetry_boundary
from poetry_ci_image.poetry.fetch import fetch_distributions


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.run import Run
    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.plan import PlannedPackage


@dataclass(frozen=True)
class PoetrySources:
    project: Project
    workdir: Path
    run: Run
    poetry_cache: Path  # where Poetry's wheels for each target are kept (the build cache's)
    _said: list[Target] = field(default_factory=list, init=False)  # unpinned: said once a run
    _said_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def wheels(
        self, packages: Sequence[PlannedPackage], target: Target
    ) -> Iterator[tuple[str, Path]]:
        """A wheel per package, by name, each as soon as it is there."""
        return self._fetch(packages, target, build_sdists=True)

    def distributions(
        self, packages: Sequence[PlannedPackage], target: Target
    ) -> Iterator[tuple[str, Path]]:
        """The file each package locks (sdists stay sdists), by name, each as soon as it is
        there."""
        return self._fetch(packages, target, build_sdists=False)

    def poetry_pins(self, target: Target) -> tuple[str, ...] | None:
        """The running Poetry's dependency closure for the target, pinned by the plugin (sorted
        `name==version`); None when the plugin has no pins for this Poetry and target."""
        from poetry_ci_image.poetry.wheels import poetry_pins

        with poetry_boundary("reading Poetry's pins"):
            return poetry_pins(target)

    def poetry_wheels(self, target: Target) -> list[Path]:
        """Poetry's wheels for the target: the pinned set, else the host's versions (said once
        a run)."""
        from poetry_ci_image.poetry.wheels import poetry_pins
        from poetry_ci_image.poetry.wheels import poetry_wheels

        with poetry_boundary("fetching Poetry's wheels for the image"):
            pins = poetry_pins(target)
            if pins is None:
                self._say_unpinned(target)
            found = poetry_wheels(
                target, self.poetry_cache, self.run.reporter, self.run.cancelled, pins
            )
        return sorted(found.glob("*.whl"))

    def _say_unpinned(self, target: Target) -> None:
        from poetry_ci_image import __version__
        from poetry_ci_image.poetry.boundary import running_poetry_version

        with self._said_lock:
            if self._said:
                return
            self._said.append(target)
        self.run.reporter.status(
            f"poetry-ci-image {__version__} has no pins of Poetry {running_poetry_version()}'s "
            f"dependencies for {target.describe()}: Poetry's layers take the host's versions "
            "(the newest that fits where the host has none), so the image's Poetry can change "
            "under the same tag. Upgrade poetry-ci-image to pin them."
        )

    def pip_wheel(self, target: Target) -> Path:
        """A pip for the target's Python (the one Poetry's virtualenv embeds)."""
        from poetry_ci_image.poetry.wheels import embedded_pip_wheel

        with poetry_boundary("finding a pip for the image"):
            return embedded_pip_wheel(target)

    def _fetch(
        self, packages: Sequence[PlannedPackage], target: Target, *, build_sdists: bool
    ) -> Iterator[tuple[str, Path]]:
        with poetry_boundary("loading the project"):
            poetry = self.project.poetry
        for fetched in fetch_distributions(
            poetry,
            packages,
            target,
            self.run.reporter,
            build_sdists=build_sdists,
            workdir=self.workdir,
            cancelled=self.run.cancelled,
            failures=self.run.cache_root / "builds" if self.run.cache_root else None,
        ):
            yield fetched.name, fetched.path
