"""The layers the plugin adds to an image, in image order, written or found in the build cache.

    the system packages (system_layers.py), when `system-packages` asks for some
    -> the venvs' skeleton (venv.py)
    -> the standard library's bytecode, when the base ships none (bytecode/stdlib.py)
    -> Poetry's layers (poetry_layers.py)
    -> the dependencies' layers (dependency_layers.py)

What changes least goes lowest: the system packages change with what is asked for (and the
archive's updates), the skeleton and the standard library with the base, Poetry with its
version, the dependencies with the lock. The system packages', the standard library's and
Poetry's layers are made on threads of their own, while the dependencies are fetched and
installed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.image.bytecode.stdlib import missing_pycs
from poetry_ci_image.image.bytecode.stdlib import pyc_path
from poetry_ci_image.image.cache.keys import cache_key
from poetry_ci_image.image.dependency_layers import DependencyLayers
from poetry_ci_image.image.poetry_layers import PoetryLayers
from poetry_ci_image.image.poetry_layers import poetry_layers
from poetry_ci_image.image.system_layers import SystemLayers
from poetry_ci_image.image.system_layers import SystemPart
from poetry_ci_image.image.tarball import LEVEL
from poetry_ci_image.image.tarball import file_entry
from poetry_ci_image.image.venv import venv_skeleton
from poetry_ci_image.plumbing.progress import size_text
from poetry_ci_image.tag.recipe import BUILDER_FORMAT
from poetry_ci_image.tag.recipe import POETRY_HOME
from poetry_ci_image.tag.recipe import VENV


if TYPE_CHECKING:
    from poetry_ci_image.image.base_image import BaseImage
    from poetry_ci_image.image.files import PackageFiles
    from poetry_ci_image.image.layer_context import LayerContext
    from poetry_ci_image.image.system.packages import SystemPackages
    from poetry_ci_image.image.tarball import LayerBlob
    from poetry_ci_image.image.venv import BasePython
    from poetry_ci_image.tag.plan import TargetPlan


@dataclass(frozen=True)
class PlatformLayers:
    """Every layer the plugin adds to one platform's image, in image order, with its history
    comment; and what the system packages add to the image's config."""

    layers: list[tuple[LayerBlob, str]]
    system: SystemPart
    poetry: tuple[tuple[str, str], ...] = ()  # Poetry's venv: (name, version) of each package
    installed: tuple[PackageFiles, ...] = ()  # the dependencies' files


class LayerWriter:
    """Writes (or finds in the cache) every layer of every platform, sharing what is the same."""

    def __init__(self, context: LayerContext, system: SystemPackages | None = None) -> None:
        self.context = context
        self._dependencies = DependencyLayers(context)
        self._system = SystemLayers(context, system) if system is not None else None

    def layers(self, build: TargetPlan, base: BaseImage, python: BasePython) -> PlatformLayers:
        """Every layer the plugin adds for `build`, in image order."""
        context, target = self.context, build.target
        skeleton = (self._skeleton(python), f"the venvs' skeleton, for {python.executable}")
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="background") as background:
            # The system packages, the standard library's bytecode and Poetry's layers (a
            # download, the first time) are made while the dependencies are fetched and
            # installed.
            system = (
                background.submit(self._system.part, target.platform)
                if self._system is not None
                else None
            )
            stdlib = background.submit(self._stdlib, build, base)
            poetry = (
                background.submit(poetry_layers, context, target)
                if context.spec.poetry_version is not None
                else None
            )
            try:
                dependencies = self._dependencies.layers(build)
                with context.run.timeline.step("wait for Poetry's layers"):
                    poetry_part = poetry.result() if poetry else PoetryLayers([], ())
                    ours = stdlib.result() + poetry_part.layers
                with context.run.timeline.step("wait for the system packages' layers"):
                    part = system.result() if system else SystemPart([], ())
            except BaseException:
                context.run.cancelled.set()
                raise
        return PlatformLayers(
            [*part.layers, skeleton, *ours, *dependencies],
            part,
            poetry=poetry_part.packages,
            installed=tuple(self._dependencies.installed.get(target.platform, ())),
        )

    def _skeleton(self, python: BasePython) -> LayerBlob:
        spec = self.context.spec
        entries = venv_skeleton(VENV, python)
        if spec.poetry_version is not None:
            entries += venv_skeleton(POETRY_HOME, python)
        key = cache_key(
            "skeleton",
            BUILDER_FORMAT,
            LEVEL,
            spec.epoch,
            VENV,
            python.executable,
            python.version,
            spec.poetry_version is not None,
        )
        return self.context.cache.layers.get_or_write(key, entries, spec.epoch)

    def _stdlib(self, build: TargetPlan, base: BaseImage) -> list[tuple[LayerBlob, str]]:
        """The pycs of the standard library's modules the base has none for (no layer when it
        has all, or with bytecode off)."""
        context, platform = self.context, build.target.platform
        bytecode = context.bytecode
        if not bytecode.on:
            return []
        key = cache_key(
            "stdlib", BUILDER_FORMAT, LEVEL, context.spec.epoch, base.digest, bytecode.key(platform)
        )
        comment = f"bytecode of the standard library of {base.reference}"
        cached = context.cache.layers.get(key)
        if cached is not None:
            return [(cached, comment)]
        if context.cache.facts.recall(key) == "none needed":
            return []
        with context.run.timeline.step("compile the standard library", track="stdlib"):
            compiler = bytecode.compiler(platform)
            sources = missing_pycs(bytecode.runtime(platform), compiler.cache_tag)
            if not sources:
                context.cache.facts.remember(key, "none needed")
                return []
            context.run.reporter.status(
                f"Compiling the standard library of {base.reference} ({len(sources)} modules, "
                "once per base digest)"
            )
            compiled = compiler.compile(sources)
            entries = [
                file_entry(pyc_path(path, compiler.cache_tag).lstrip("/"), pyc)
                for path, pyc in compiled.items()
            ]
            blob = context.cache.layers.write(key, entries, context.spec.epoch)
        context.run.reporter.detail(f"layer stdlib: {size_text(blob.size)}")
        return [(blob, comment)]
