"""A cache for the expensive half of the work: the project facts and the install plan.

Loading a project into Poetry and running its installer over the lock takes a second or two on a
large lock; the rest (settings, target, fingerprint) takes milliseconds. Both results are stored
under a key made of every input they are computed from: the bytes of pyproject.toml, poetry.lock
and Poetry's configuration files, Poetry's installer settings from the environment, the Poetry
and plugin versions, and (for the plan) the target and the group/extra selection. A change to
any of them is a miss, so a hit is exactly what the computation would give. `poetry image`
commands honour Poetry's `--no-cache`.
"""

from __future__ import annotations

import hashlib
import json

from dataclasses import asdict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image import __version__
from poetry_ci_image.plumbing.atomic import write_atomically
from poetry_ci_image.tag.plan import Distribution
from poetry_ci_image.tag.plan import InstallPlan
from poetry_ci_image.tag.plan import PlannedPackage
from poetry_ci_image.tag.plan import Source


if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from poetry_ci_image.settings.merge import GroupSelection
    from poetry_ci_image.settings.target import Target


# Bump when what is stored, or how it is computed, changes.
CACHE_FORMAT = 2
KEEP_ENTRIES = 200


@dataclass(frozen=True)
class ProjectInputs:
    """Everything the facts and the plan are computed from, as bytes and strings."""

    pyproject: bytes
    lock: bytes | None
    local_config: bytes | None
    global_config: bytes | None
    poetry_settings: tuple[tuple[str, str], ...]  # POETRY_INSTALLER_*, POETRY_SOLVER_* variables
    poetry_version: str

    def digest(self, *extra: str) -> str:
        hasher = hashlib.sha256()
        for part in (
            f"format {CACHE_FORMAT} plugin {__version__} poetry {self.poetry_version}".encode(),
            self.pyproject,
            self.lock or b"<no lock>",
            self.local_config or b"<no poetry.toml>",
            self.global_config or b"<no config.toml>",
            json.dumps(self.poetry_settings).encode(),
            *(item.encode() for item in extra),
        ):
            hasher.update(len(part).to_bytes(8, "big"))
            hasher.update(part)
        return hasher.hexdigest()


@dataclass(frozen=True)
class CachedFacts:
    """ProjectFacts without the project's location (the same project may move)."""

    table: dict[str, Any]
    python_constraint: str
    allowed_minors: tuple[str, ...]
    name: str | None


class PlanCache:
    """JSON files under `directory`; `directory=None` disables the cache."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory

    def facts(self, inputs: ProjectInputs) -> CachedFacts | None:
        data = self._load(inputs.digest("facts"))
        if data is None:
            return None
        return CachedFacts(
            table=data["table"],
            python_constraint=data["python_constraint"],
            allowed_minors=tuple(data["allowed_minors"]),
            name=data.get("name"),
        )

    def store_facts(self, inputs: ProjectInputs, facts: CachedFacts) -> None:
        self._store(inputs.digest("facts"), asdict(facts))

    def plan(
        self, inputs: ProjectInputs, target: Target, selection: GroupSelection
    ) -> InstallPlan | None:
        data = self._load(_plan_key(inputs, target, selection))
        return None if data is None else plan_from_dict(data)

    def store_plan(
        self, inputs: ProjectInputs, target: Target, selection: GroupSelection, plan: InstallPlan
    ) -> None:
        self._store(_plan_key(inputs, target, selection), asdict(plan))

    def _load(self, key: str) -> dict[str, Any] | None:
        if self._directory is None:
            return None
        try:
            data: dict[str, Any] = json.loads((self._directory / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        return data

    def _store(self, key: str, data: dict[str, Any]) -> None:
        if self._directory is None:
            return
        try:
            write_atomically(self._directory / f"{key}.json", json.dumps(data))
            self._prune()
        except OSError:  # a cache that cannot be written is only a slower run
            return

    def _prune(self) -> None:
        assert self._directory is not None
        entries = sorted(
            self._directory.glob("*.json"), key=lambda path: path.stat().st_mtime, reverse=True
        )
        for stale in entries[KEEP_ENTRIES:]:
            stale.unlink(missing_ok=True)


def _plan_key(inputs: ProjectInputs, target: Target, selection: GroupSelection) -> str:
    return inputs.digest(
        "plan",
        json.dumps([target.python, target.platform, str(target.libc)]),
        json.dumps(asdict(selection), sort_keys=True),
    )


def plan_from_dict(data: dict[str, Any]) -> InstallPlan:
    packages = tuple(
        PlannedPackage(
            name=item["name"],
            version=item["version"],
            source=Source(**item["source"]),
            distribution=Distribution(**item["distribution"]) if item["distribution"] else None,
        )
        for item in data["packages"]
    )
    return InstallPlan(
        packages=packages,
        groups=tuple(data["groups"]),
        extras=tuple(data["extras"]),
        directories=tuple(data["directories"]),
    )


def read_inputs(
    root: Path, global_config: Path, poetry_version: str, env: Mapping[str, str]
) -> ProjectInputs:
    """The inputs of the project at `root`, read from its files and the environment."""
    return ProjectInputs(
        pyproject=(root / "pyproject.toml").read_bytes(),
        lock=_read(root / "poetry.lock"),
        local_config=_read(root / "poetry.toml"),
        global_config=_read(global_config),
        poetry_settings=poetry_settings(env),
        poetry_version=poetry_version,
    )


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def poetry_settings(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The environment variables that change how Poetry's installer plans."""
    return tuple(
        sorted(
            (key, value)
            for key, value in env.items()
            if key.startswith(("POETRY_INSTALLER_", "POETRY_SOLVER_"))
        )
    )
