"""The image recipe: what the image holds besides the locked packages, and how it is made.

Two recipes:

- the built-in one (no `dockerfile`): the plugin assembles the image itself, with no Docker
  engine (image/assemble.py). Its bytes follow from the plan, the base, Poetry's version, the
  layer budget, the epoch (SOURCE_DATE_EPOCH), the system packages asked for (and the sources
  named for them, without credentials) and `BUILDER_FORMAT`, so those are what the fingerprint
  covers. The system packages are covered as asked for, not as resolved: the tag is computed
  offline, and the versions the archive gives are recorded in the image;
- your own Dockerfile: the engine builds it, and the fingerprint covers its text, the
  `hash-files` and the build arguments instead.
"""

from __future__ import annotations

import hashlib
import os
import re

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.plumbing.urls import strip_credentials
from poetry_ci_image.settings.table import DEFAULT_BYTECODE


if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from poetry_ci_image.settings.merge import Settings


# Bump when the same inputs would give other image bytes: it is in the fingerprint (a plugin
# upgrade that changes how images are made moves every tag, on purpose) and in the build cache.
# 1: the first engine-free images. 2: bytecode; layers ordered for pulls.
BUILDER_FORMAT = 2
VENV = "/opt/venv"
POETRY_HOME = "/opt/poetry"
EPOCH_ENV = "SOURCE_DATE_EPOCH"
# A Debian package name, with a version if pinned (`libpq5`, `libpq5=15.10-0+deb12u1`).
_SYSTEM_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(=[0-9][A-Za-z0-9.+~:-]*)?$")


@dataclass(frozen=True)
class ImageRecipe:
    """What the image holds besides the locked packages."""

    base: str
    poetry_version: str | None  # Poetry in the image, or None
    layers: int = 0  # the built-in recipe's layer budget for the dependencies
    epoch: int = 0  # the built-in recipe's timestamps
    bytecode: str = "off"  # the built-in recipe's pycs: checked, unchecked or off
    dockerfile: str | None = None  # your own Dockerfile's text
    hash_files: tuple[tuple[str, str], ...] = ()  # (path relative to the project, sha256)
    build_args: tuple[tuple[str, str], ...] = ()  # your Dockerfile's build arguments
    system_packages: tuple[str, ...] = ()  # sorted, as asked for (name or name=version)
    system_sources: tuple[str, ...] = ()  # replacing the base's; may hold credentials

    @property
    def system_sources_shown(self) -> tuple[str, ...]:
        """The sources without credentials: what the fingerprint and messages see."""
        return tuple(" ".join(strip_credentials(w) for w in s.split()) for s in self.system_sources)

    @property
    def builtin(self) -> bool:
        return self.dockerfile is None

    def as_dict(self) -> dict[str, Any]:
        if self.dockerfile is None:
            document: dict[str, Any] = {
                "base": self.base,
                "builder": {
                    "format": BUILDER_FORMAT,
                    "layers": self.layers,
                    "epoch": self.epoch,
                    "bytecode": self.bytecode,
                },
                "poetry": self.poetry_version,
            }
            if self.system_packages:  # absent otherwise: no tag moves for those who ask none
                document["system"] = {
                    "packages": list(self.system_packages),
                    "sources": list(self.system_sources_shown),
                }
            return document
        return {
            "base": self.base,
            "dockerfile_sha256": hashlib.sha256(self.dockerfile.encode()).hexdigest(),
            "hash_files": dict(self.hash_files),
            "build_args": dict(self.build_args),
            "poetry": self.poetry_version,
        }


def image_recipe(
    settings: Settings, base: str, poetry_version: str, env: Mapping[str, str]
) -> ImageRecipe:
    poetry = poetry_version if settings.poetry_in_image else None
    system = _system_packages(settings)
    if settings.dockerfile is None:
        if settings.hash_files or settings.build_args:
            raise ConfigError(
                "hash-files and build-args apply to your own Dockerfile, and none is configured.",
                "Remove them from [tool.poetry-ci-image], or set dockerfile.",
            )
        return ImageRecipe(
            base=base,
            poetry_version=poetry,
            layers=settings.layers,
            epoch=source_date_epoch(env),
            bytecode=settings.bytecode or DEFAULT_BYTECODE,
            system_packages=system,
            system_sources=settings.system_sources if system else (),
        )
    if system:
        raise ConfigError(
            "system-packages applies to the built-in recipe; your own Dockerfile installs its "
            "own system packages.",
            "Remove system-packages from [tool.poetry-ci-image] (and install them in your "
            "Dockerfile), or remove dockerfile to have the plugin install them with no engine.",
        )
    if settings.bytecode is not None:
        raise ConfigError(
            "bytecode applies to the built-in recipe; your own Dockerfile compiles what it wants.",
            "Remove bytecode from [tool.poetry-ci-image], and compile in your Dockerfile if you "
            "want bytecode (`pip install --compile`, or `python -m compileall`).",
        )
    return ImageRecipe(
        base=base,
        poetry_version=poetry,
        dockerfile=dockerfile_text(settings.dockerfile, settings.project_dir),
        hash_files=tuple(
            (_relative(path, settings.project_dir), _sha256(path, "hash-files"))
            for path in sorted(settings.hash_files)
        ),
        build_args=settings.build_args,
    )


def _system_packages(settings: Settings) -> tuple[str, ...]:
    """The system packages asked for, checked and sorted (a bad name fails offline, in `tag`)."""
    bad = [item for item in settings.system_packages if not _SYSTEM_PACKAGE.match(item)]
    if bad:
        raise ConfigError(
            f"system-packages has '{bad[0]}', which is not a Debian package name, or name=version.",
            'Write each as a package name ("libpq5") or name=version ("libpq5=15.10-0+deb12u1").',
        )
    return tuple(sorted(settings.system_packages))


def source_date_epoch(env: Mapping[str, str]) -> int:
    """The time every file and history entry of the image carries: SOURCE_DATE_EPOCH, else 0."""
    value = env.get(EPOCH_ENV, "").strip()
    if not value:
        return 0
    if not value.isdigit():
        raise ConfigError(
            f"{EPOCH_ENV} is '{value}', not a number of seconds since 1970.",
            "Set it to a whole number (e.g. `git log -1 --format=%ct`), or unset it.",
        )
    return int(value)


def dockerfile_text(path: Path, project_dir: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"The Dockerfile {_relative(path, project_dir)} is missing.",
            "Fix dockerfile in [tool.poetry-ci-image] (a path relative to pyproject.toml), or "
            "remove it to use the built-in recipe (`poetry image dockerfile` prints a start).",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"The Dockerfile {path} cannot be read: {error}",
            "Make it a readable UTF-8 text file.",
        ) from None


def _sha256(path: Path, key: str) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise ConfigError(
            f"{path.name}, listed in {key}, does not exist ({path}).",
            f"Fix {key} in [tool.poetry-ci-image]: paths are relative to pyproject.toml.",
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}, listed in {key}, cannot be read: {error}") from None


def _relative(path: Path, root: Path) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")
