"""The image recipe: the Dockerfile text and the other inputs the fingerprint covers."""

from __future__ import annotations

import hashlib
import os

from typing import TYPE_CHECKING

from poetry_ci_image.dockerfile import builtin_dockerfile
from poetry_ci_image.errors import ConfigError
from poetry_ci_image.fingerprint import ImageRecipe


if TYPE_CHECKING:
    from pathlib import Path

    from poetry_ci_image.settings import Settings


def image_recipe(settings: Settings, base: str, poetry_version: str) -> ImageRecipe:
    return ImageRecipe(
        base=base,
        dockerfile=dockerfile_text(settings),
        hash_files=tuple(
            (_relative(path, settings.project_dir), _sha256(path, "hash-files"))
            for path in sorted(settings.hash_files)
        ),
        build_args=settings.build_args,
        poetry_version=poetry_version if settings.poetry_in_image else None,
    )


def dockerfile_text(settings: Settings) -> str:
    if settings.dockerfile is None:
        return builtin_dockerfile(with_poetry=settings.poetry_in_image)
    try:
        return settings.dockerfile.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"The Dockerfile {_relative(settings.dockerfile, settings.project_dir)} is missing.",
            "Fix dockerfile in [tool.poetry-ci-image] (a path relative to pyproject.toml), or "
            "remove it to use the built-in Dockerfile (`poetry image dockerfile` prints it).",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"The Dockerfile {settings.dockerfile} cannot be read: {error}",
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
