"""Your own Dockerfile (`dockerfile` configured), built by the Docker engine.

The plan's files are fetched on the host the way the built-in recipe fetches its wheels
(poetry/sources.py: Poetry's cache and credentials, within the Poetry boundary, stopped with the
run), and handed to your Dockerfile in the documented build context (engine/build_context.py,
engine/dockerfile.py), with the plugin's labels appended as one LABEL instruction. sdists stay
sdists: your Dockerfile may compile them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from poetry_ci_image.engine.build_context import ContextTar
from poetry_ci_image.engine.build_context import Shipped
from poetry_ci_image.engine.build_context import add_hash_files
from poetry_ci_image.engine.build_context import add_pip_contract
from poetry_ci_image.engine.build_context import write_context
from poetry_ci_image.engine.dockerfile import with_labels
from poetry_ci_image.image.cache.build_cache import BuildCache
from poetry_ci_image.image.files import direct_url
from poetry_ci_image.jobs.image_job import image_labels
from poetry_ci_image.tag.labels import TARGET_LABEL
from poetry_ci_image.tag.recipe import VENV


if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.engine.docker import Engine
    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.run import Run
    from poetry_ci_image.tag.resolve import Resolved


def build_args(resolved: Resolved) -> dict[str, str]:
    """The build arguments every Dockerfile gets (see engine/dockerfile.py), then the user's."""
    args = {
        "BASE_IMAGE": resolved.recipe.base,
        "PYTHON_VERSION": resolved.target.python_minor,
        "VENV": VENV,
        "POETRY_VERSION": resolved.recipe.poetry_version or "",
    }
    args.update(resolved.recipe.build_args)
    return args


def build_with_engine(
    project: Project,
    resolved: Resolved,
    engine: Engine,
    run: Run,
    references: Sequence[str],
    workdir: Path,
) -> str:
    """Build your Dockerfile as `references` (the first is the main one); the image ID."""
    from poetry_ci_image.poetry.sources import PoetrySources

    settings = resolved.settings
    reporter = run.reporter
    plan = resolved.plan
    target = resolved.target
    poetry_cache = BuildCache(run.cache_root, workdir).directory("poetry")
    sources = PoetrySources(project, workdir, run, poetry_cache)
    count = len(plan.packages)
    reporter.status(
        f"Fetching {count} locked distribution{'' if count == 1 else 's'} for {target.describe()}"
    )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poetry") as background:
        # Poetry's own wheels (a download the first time) come meanwhile.
        poetry_download = (
            background.submit(sources.poetry_wheels, target) if settings.poetry_in_image else None
        )
        try:
            fetched = list(sources.distributions(plan.packages, target))
            poetry_wheels = poetry_download.result() if poetry_download else None
        except BaseException:
            run.cancelled.set()
            raise
    planned = {package.name: package for package in plan.packages}
    shipped = [
        Shipped(name, planned[name].version, path, direct_url(planned[name]))
        for name, path in fetched
    ]
    pip_wheel = sources.pip_wheel(target)

    def contents(context: ContextTar) -> None:
        add_pip_contract(context, shipped, pip_wheel, poetry_wheels)
        add_hash_files(context, settings.hash_files, settings.project_dir)

    reporter.status("Preparing the build context")
    labels = {**image_labels(resolved), TARGET_LABEL: target.describe()}
    assert resolved.recipe.dockerfile is not None
    context = write_context(with_labels(resolved.recipe.dockerfile, labels), contents, workdir)
    reporter.status(f"Building {references[0]}")
    # With the engine's default network: your Dockerfile may apt-get install.
    image_id = engine.build(context, references[0], build_args(resolved), reporter)
    for extra in references[1:]:
        engine.tag(image_id, extra)
    return image_id
