"""The install plan: what `poetry install` would put into the image for the target.

It is computed once, by `poetry.planner.plan_install`, from Poetry's own installer run against
the lock for the target. The fingerprint and the build context are both made from it, so the tag
names exactly what the image holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from poetry_ci_image.settings.target import Target


@dataclass(frozen=True)
class Source:
    """Where a locked package comes from, as the lock records it (no credentials, no host paths)."""

    type: str  # "pypi", "legacy", "url", "file", "git", "directory"
    url: str | None = None  # index or archive URL, repository URL, or path relative to the project
    reference: str | None = None  # source name, or the git branch/tag/rev asked for
    resolved_reference: str | None = None  # the git commit
    subdirectory: str | None = None


@dataclass(frozen=True)
class Distribution:
    """The file the target installs: the best wheel for its tags, else the sdist."""

    filename: str
    hash: str  # "sha256:<hex>" as the lock records it


@dataclass(frozen=True)
class PlannedPackage:
    name: str  # canonical name
    version: str
    source: Source
    distribution: Distribution | None  # None for git: built from the locked commit

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "source": {k: v for k, v in vars(self.source).items() if v is not None},
            "file": self.distribution.filename if self.distribution else None,
            "hash": self.distribution.hash if self.distribution else None,
        }


@dataclass(frozen=True)
class InstallPlan:
    """The packages, sorted by name; path dependencies are left to `poetry install` in the job."""

    packages: tuple[PlannedPackage, ...]
    groups: tuple[str, ...]
    extras: tuple[str, ...]
    directories: tuple[str, ...] = ()  # names of directory dependencies, not put in the image

    def __post_init__(self) -> None:
        names = [package.name for package in self.packages]
        if names != sorted(names):
            raise ValueError("InstallPlan.packages must be sorted by name")


def built_on_the_host(plan: InstallPlan) -> list[PlannedPackage]:
    """The packages whose file for the target is an sdist: the built-in recipe builds them into
    wheels on the host, which gives the target a wheel only if their code is pure Python."""
    return [
        package
        for package in plan.packages
        if package.distribution is not None
        and not package.distribution.filename.endswith(".whl")
        and package.source.type not in {"file", "url"}
    ]


@dataclass(frozen=True)
class TargetPlan:
    """One platform of the image: its target, and what `poetry install` installs there."""

    target: Target
    plan: InstallPlan
