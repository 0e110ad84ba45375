"""Your own Dockerfile (`dockerfile` configured), built by the Docker engine.

The plan's files are fetched on the host (Poetry's cache and credentials) and handed to your
Dockerfile in the documented build context (build_context.py, dockerfile.py), with the plugin's
labels appended as one LABEL instruction. sdists stay sdists: your Dockerfile may compile them.
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
from poetry_ci_image.image.files import direct_url
from poetry_ci_image.tag.labels import TARGET_LABEL
from poetry_ci_image.tag.labels import image_labels
from poetry_ci_image.tag.recipe import VENV


if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.engine.docker import Engine
    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.run import Run
    from poetry_ci_image.tag.resolve import Resolved


def build_args(resolved: Resolved) -> dict[str, str]:
    """The build arguments every Dockerfile gets (see dockerfile.py), then the user's."""
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
    from poetry_ci_image.poetry.fetch import fetch_distributions
    from poetry_ci_image.poetry.wheels import embedded_pip_wheel
    from poetry_ci_image.poetry.wheels import poetry_wheels

    settings = resolved.settings
    reporter = run.reporter
    plan = resolved.plan
    target = resolved.target
    reporter.status(
        f"Fetching {len(plan.packages)} locked distribution{'' if len(plan.packages) == 1 else 's'}"
        f" for {target.describe()}"
    )
    with ThreadPoolExecutor(max_workers=1) as background:
        # Poetry's own wheels (a download the first time) come meanwhile.
        poetry_download = (
            background.submit(
                poetry_wheels, target, (run.cache_root or workdir / "cache") / "poetry", reporter
            )
            if settings.poetry_in_image
            else None
        )
        fetched = list(
            fetch_distributions(
                project.poetry,
                plan.packages,
                target,
                reporter,
                build_sdists=False,
                workdir=workdir,
            )
        )
        poetry_directory = poetry_download.result() if poetry_download else None
    planned = {package.name: package for package in plan.packages}
    shipped = [
        Shipped(item.name, planned[item.name].version, item.path, direct_url(planned[item.name]))
        for item in fetched
    ]

    def contents(context: ContextTar) -> None:
        add_pip_contract(context, shipped, embedded_pip_wheel(target), poetry_directory)
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
