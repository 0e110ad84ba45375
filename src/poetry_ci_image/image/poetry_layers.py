"""Poetry in the image: its venv, in two layers, written or found in the build cache.

Its pure-Python distributions go in one layer (the same on every platform of one Python, so
written and sent once), its compiled ones in another. The wheels are Poetry's own for the
target (poetry/wheels.py), installed on the host like the dependencies, with their bytecode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def poetry_layers(context: LayerContext, target: Target) -> list[tuple[LayerBlob, str]]:
    """Poetry's layers for `target`, with their history comments."""
    timeline = context.run.timeline
    with timeline.step("fetch Poetry's wheels for the image", track="poetry"):
        wheels = sorted(context.sources.poetry_wheels(target), key=lambda path: path.name)
    with timeline.step("write Poetry's layers", track="poetry"):
        return _parts(context, wheels, target)


def _parts(
    context: LayerContext, wheels: list[Path], target: Target
) -> list[tuple[LayerBlob, str]]:
    pure = [wheel for wheel in wheels if wheel.name.endswith("-none-any.whl")]
    native = [wheel for wheel in wheels if wheel not in pure]
    installed: dict[str, list[Entry]] = {}
    layers: list[tuple[LayerBlob, str]] = []
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
        context.run.reporter.detail(f"layer Poetry ({part}): {size_text(blob.size)}")
        comment = f"Poetry {spec.poetry_version} in {POETRY_HOME}: {part} distributions"
        layers.append((blob, comment))
    return layers


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
