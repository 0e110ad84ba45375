"""Every input of the built-in recipe's image, as plain values (made from `Resolved`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Mapping

    from poetry_ci_image.reference import ImageReference
    from poetry_ci_image.tag.plan import TargetPlan


@dataclass(frozen=True)
class BuildSpec:
    platforms: tuple[TargetPlan, ...]
    base: ImageReference
    poetry_version: str | None  # None: Poetry stays out
    layers: int
    epoch: int
    bytecode: str  # checked, unchecked or off
    labels: Mapping[str, str]  # the same on every platform's image
    tag: str = ""  # the fingerprint's tag, which the SBOM names the image by
    system_packages: tuple[str, ...] = ()  # Debian packages to install (name or name=version)
    system_sources: tuple[str, ...] = ()  # apt sources replacing the base's (credentials too)
