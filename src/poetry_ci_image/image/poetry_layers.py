"""Poetry in the image: its venv, in two layers, written or found in the build cache.

Its pure-Python distributions go in one layer (the same on every platform of one Python, so
written and sent once), its compiled ones in another. The wheels are Poetry's own for the
target (poetry/wheels.py), installed on the host like the dependencies, with their bytecode.

Each layer is kept under a key of its wheels' digests, which is what lets two platforms share the
pure-Python one. When the plugin pins Poetry's dependencies for the target, the pinned set (with
the target and how layers are made) is a key known before any download: it names the layers
found for it, so a warm cache gives Poetry's layers without fetching a wheel. Without pins, the
wheels must be fetched to know the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from poetry_ci_image.image.cache.keys import cache_key
from poetry_ci_image.image.files import install_wheel
from poetry_ci_image.image.layers import resolve_overlaps
from poetry_ci_image.image.tarball import LEVEL
from poetry_ci_image.oci import file_digest
from poetry_ci_image.plumbing.progress import size_text
from poetry_ci_image.tag.recipe import BUILDER_FORMAT
from poetry_ci_image.tag.recipe import POETRY_HOME


if TYPE_CHECKING:
    from pathlib import Path

    from poetry_ci_image.image.layer_context import LayerContext
    from poetry_ci_image.image.tarball import Entry
    from poetry_ci_image.image.tarball import LayerBlob
    from poetry_ci_image.settings.target import Target


@dataclass(frozen=True)
class PoetryLayers:
    """Poetry's layers for one target, with their history comments, and what its venv holds:
    (name, version) of each distribution, for the SBOM."""

    layers: list[tuple[LayerBlob, str]]
    packages: tuple[tuple[str, str], ...]


def poetry_layers(context: LayerContext, target: Target) -> PoetryLayers:
    """Poetry's layers for `target`, with their history comments, and its venv's packages."""
    timeline = context.run.timeline
    pins = context.sources.poetry_pins(target)
    group = pinned_key(context, target, pins) if pins is not None else None
    found = context.cache.layers.get_group(group) if group is not None else None
    packages = tuple(_pinned(pin) for pin in pins) if pins is not None else ()
    if found is None:
        with timeline.step("fetch Poetry's wheels for the image", track="poetry"):
            wheels = sorted(context.sources.poetry_wheels(target), key=lambda path: path.name)
        with timeline.step("write Poetry's layers", track="poetry"):
            parts = _parts(context, wheels, target)
        found = [(part, blob) for part, _, blob in parts]
        if group is not None:
            context.cache.layers.remember_group(group, [(part, key) for part, key, _ in parts])
        else:
            packages = tuple(_wheel_package(wheel.name) for wheel in wheels)
    layers = []
    for part, blob in found:
        context.run.reporter.detail(f"layer Poetry ({part}): {size_text(blob.size)}")
        comment = f"Poetry {context.spec.poetry_version} in {POETRY_HOME}: {part} distributions"
        layers.append((blob, comment))
    return PoetryLayers(layers, tuple(sorted(packages)))


def _pinned(pin: str) -> tuple[str, str]:
    name, _, version = pin.partition("==")
    return canonicalize_name(name), version


def _wheel_package(filename: str) -> tuple[str, str]:
    name, version, *_ = filename.split("-")
    return canonicalize_name(name), version


def pinned_key(context: LayerContext, target: Target, pins: tuple[str, ...]) -> str:
    """The key of Poetry's layers for `target` from the pinned set, known before any download:
    the set fixes the wheels for the target's tags; the rest is how the layers are made."""
    spec = context.spec
    return cache_key(
        "poetry-pinned",
        BUILDER_FORMAT,
        LEVEL,
        spec.epoch,
        POETRY_HOME,
        target.python_minor,
        target.platform,
        str(target.libc),
        target.platform_tags(),
        context.bytecode_key(target),
        list(pins),
    )


def _parts(
    context: LayerContext, wheels: list[Path], target: Target
) -> list[tuple[str, str, LayerBlob]]:
    """Each part's name, key (its wheels' digests) and layer."""
    pure = [wheel for wheel in wheels if wheel.name.endswith("-none-any.whl")]
    native = [wheel for wheel in wheels if wheel not in pure]
    installed: dict[str, list[Entry]] = {}
    parts: list[tuple[str, str, LayerBlob]] = []
    spec = context.spec
    for part, part_wheels in (("pure-Python", pure), ("compiled", native)):
        if not part_wheels:
            continue
        key = cache_key(
            "poetry",
            BUILDER_FORMAT,
            LEVEL,
            spec.epoch,
            POETRY_HOME,
            target.python_minor,
            context.bytecode_key(target),
            [(wheel.name, file_digest(wheel)) for wheel in part_wheels],
        )
        blob = context.cache.layers.get(key)
        if blob is None:
            if not installed:
                installed = _install(context, wheels, target)
            entries = [e for wheel in part_wheels for e in installed[wheel.name]]
            blob = context.cache.layers.write(key, entries, spec.epoch)
        parts.append((part, key, blob))
    return parts


def _install(context: LayerContext, wheels: list[Path], target: Target) -> dict[str, list[Entry]]:
    """Each of Poetry's wheels' files in its venv, by wheel; overlaps settled over all."""
    context.run.reporter.status(f"Writing Poetry's layers ({len(wheels)} distributions)")
    compiler = context.compiler(target)
    packages = context.parallel(
        lambda wheel: install_wheel(
            wheel.name,
            wheel,
            venv=POETRY_HOME,
            python=target.python_minor,
            spill=context.workdir / "spill" / "poetry" / wheel.name,
            compiler=compiler,
        ),
        wheels,
    )
    lost, _ = resolve_overlaps(packages)
    return {
        package.name: [e for e in package.entries if e.path not in lost.get(package.name, ())]
        for package in packages
    }
