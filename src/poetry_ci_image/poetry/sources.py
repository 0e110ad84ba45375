"""Where the built-in recipe's wheels come from: the plan's files through Poetry's cache and
credentials (fetch.py; sdists and git checkouts built on the host), and Poetry's own wheels for
the target (wheels.py). Poetry is loaded only when something has to be fetched."""

from __future__ import annotations

from dataclasses import dataclass
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

    def wheels(
        self, packages: Sequence[PlannedPackage], target: Target
    ) -> Iterator[tuple[str, Path]]:
        """A wheel per package, by name, each as soon as it is there."""
        with poetry_boundary("loading the project"):
            poetry = self.project.poetry
        for fetched in fetch_distributions(
            poetry,
            packages,
            target,
            self.run.reporter,
            build_sdists=True,
            workdir=self.workdir,
            cancelled=self.run.cancelled,
        ):
            yield fetched.name, fetched.path

    def poetry_wheels(self, target: Target) -> list[Path]:
        from poetry_ci_image.poetry.wheels import poetry_wheels

        directory = (self.run.cache_root or self.workdir / "cache") / "poetry"
        with poetry_boundary("fetching Poetry's wheels for the image"):
            found = poetry_wheels(target, directory, self.run.reporter, self.run.cancelled)
        return sorted(found.glob("*.whl"))
