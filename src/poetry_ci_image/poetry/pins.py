"""Poetry's dependencies for the image, pinned: the `name==version` set of Poetry and its whole
dependency closure per Poetry version and target, shipped with the plugin (pins.json beside this
module, written by scripts/pin_poetry.py).

A target's set depends on its CPython minor (markers, and what each release still supports), its
architecture and its libc family; the sets are resolved for the oldest libc of each family the
plugin meets (`PINNED_LIBC`), so every newer one accepts their wheels. Equal sets are stored
once. Plain data: no Poetry import here.
"""

from __future__ import annotations

import functools
import json

from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:
    from collections.abc import Iterable

    from poetry_ci_image.settings.target import Target


PINS_FILE = Path(__file__).with_name("pins.json")
# The oldest libc of each family the pinned sets have wheels for.
PINNED_LIBC = {"glibc": (2, 28), "musl": (1, 2)}


def pin_key(target: Target) -> str:
    """What the pins are looked up by for `target`: `3.12-x86_64-glibc`."""
    return f"{target.python_minor}-{target.machine}-{target.libc.family}"


def pinned_set(poetry_version: str, target: Target) -> tuple[str, ...] | None:
    """Poetry `poetry_version` and its dependencies for `target`, as sorted `name==version`;
    None when the plugin has no pins for them."""
    data = pins_data()
    entry = data["poetry"].get(poetry_version)
    oldest = PINNED_LIBC.get(target.libc.family)
    if entry is None or oldest is None or target.libc.version < oldest:
        return None
    name = entry["targets"].get(pin_key(target))
    return None if name is None else tuple(data["sets"][name])


def pinned_versions() -> list[str]:
    """The Poetry versions the plugin has pins for."""
    return list(pins_data()["poetry"])


@functools.cache
def pins_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PINS_FILE.read_text(encoding="utf-8"))
    return data


def unmet_requirements(requires: Iterable[str], target: Target, pins: Iterable[str]) -> list[str]:
    """Those of `requires` (Requires-Dist lines) the target needs that `pins` do not satisfy."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    environment = {
        key: value for key, value in target.marker_env().items() if isinstance(value, str)
    }
    pinned = dict(pin.split("==", 1) for pin in pins)
    unmet = []
    for text in requires:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is not None and not marker.evaluate({**environment, "extra": ""}):
            continue
        version = pinned.get(str(canonicalize_name(requirement.name)))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            unmet.append(text)
    return unmet
