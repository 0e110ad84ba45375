"""`poetry image build`: the image of the install plan, built by a Docker engine.

The files of the plan are fetched on the host (Poetry's cache and credentials) and, for the
built-in Dockerfile, installed on the host into the build context (venv_files.py); the build
runs with no network. So no credential ever reaches the image, and private indexes, proxies and
air-gapped runners work alike.
"""

from __future__ import annotations

import time

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Protocol

from poetry_ci_image.context import ContextTar
from poetry_ci_image.context import Shipped
from poetry_ci_image.context import add_hash_files
from poetry_ci_image.context import add_pip_contract
from poetry_ci_image.context import add_venvs
from poetry_ci_image.context import write_context
from poetry_ci_image.dockerfile import VENV
from poetry_ci_image.dockerfile import with_labels
from poetry_ci_image.labels import FINGERPRINT_LABEL
from poetry_ci_image.labels import image_labels
from poetry_ci_image.venv_files import direct_url
from poetry_ci_image.workspace import run_directory


if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.engine import Engine
    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.resolve import Resolved


class Reporter(Protocol):
    def status(self, message: str) -> None:
        """A line a person follows the work by."""

    def detail(self, message: str) -> None:
        """A line shown with -v only (the build log, each download)."""


@dataclass(frozen=True)
class BuildOutcome:
    reference: str
    built: bool  # False when the engine already had the image
    seconds: float


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


def extra_references(resolved: Resolved, tags: Sequence[str]) -> list[str]:
    repository = resolved.reference
    return [str(repository.with_tag(tag)) for tag in tags]


def _existing_image(resolved: Resolved, engine: Engine, reporter: Reporter) -> str | None:
    """The image of this fingerprint if the engine has one: under this name, or another one."""
    reference = str(resolved.reference)
    if engine.has_image(reference):
        reporter.status(f"{reference} is already in the Docker engine; nothing to build.")
        return reference
    image = engine.find_labelled(FINGERPRINT_LABEL, resolved.fingerprint.digest)
    if image is None:
        return None
    reporter.status(f"The engine has an image of this fingerprint ({image[:19]}); tagging it.")
    engine.tag(image, reference)
    return image


def build_image(
    project: Project,
    resolved: Resolved,
    engine: Engine,
    reporter: Reporter,
    env: Mapping[str, str],
    *,
    extra_tags: Sequence[str] = (),
    force: bool = False,
) -> BuildOutcome:
    started = time.monotonic()
    reference = str(resolved.reference)
    extras = extra_references(resolved, extra_tags)

    if not force:
        existing = _existing_image(resolved, engine, reporter)
        if existing is not None:
            for extra in extras:
                engine.tag(existing, extra)
            return BuildOutcome(reference, built=False, seconds=time.monotonic() - started)

    with run_directory() as workdir:
        _build(project, resolved, engine, reporter, env, extras, workdir)
    return BuildOutcome(reference, built=True, seconds=time.monotonic() - started)


def _build(
    project: Project,
    resolved: Resolved,
    engine: Engine,
    reporter: Reporter,
    env: Mapping[str, str],
    extras: Sequence[str],
    workdir: Path,
) -> None:
    reference = str(resolved.reference)
    settings = resolved.settings
    own_dockerfile = settings.dockerfile is not None
    plan = resolved.plan
    reporter.status(
        f"Fetching {len(plan.packages)} locked distributions for {resolved.target.describe()}"
    )
    from poetry_ci_image.poetry.fetch import fetch_distributions
    from poetry_ci_image.poetry.wheels import embedded_pip_wheel
    from poetry_ci_image.poetry.wheels import poetry_wheels as download_poetry_wheels

    with ThreadPoolExecutor(max_workers=1) as background:
        # Poetry's own wheels (a download the first time) come meanwhile.
        poetry_download = (
            background.submit(
                download_poetry_wheels, project.poetry, resolved.target, reporter.status
            )
            if settings.poetry_in_image
            else None
        )
        fetched = fetch_distributions(
            project.poetry,
            plan.packages,
            resolved.target,
            reporter.detail,
            build_sdists=not own_dockerfile,
            workdir=workdir,
        )
        poetry_wheels = poetry_download.result() if poetry_download else None
    planned = {package.name: package for package in plan.packages}
    shipped = [
        Shipped(item.name, planned[item.name].version, item.path, direct_url(planned[item.name]))
        for item in fetched
    ]

    def contents(context: ContextTar) -> None:
        if own_dockerfile:
            pip_wheel = embedded_pip_wheel(resolved.target)
            add_pip_contract(context, shipped, pip_wheel, poetry_wheels)
        else:
            add_venvs(context, shipped, poetry_wheels, resolved.target.python_minor)
        add_hash_files(context, settings.hash_files, settings.project_dir)

    reporter.status("Preparing the build context")
    labels = image_labels(resolved, env, settings.project_dir)
    context = write_context(with_labels(resolved.recipe.dockerfile, labels), contents, workdir)
    try:
        reporter.status(f"Building {reference}")

        def on_line(line: str) -> None:
            if line.startswith("Step "):
                reporter.status(f"  {line}")
            else:
                reporter.detail(f"    {line}")

        image_id = engine.build(
            context,
            reference=reference,
            build_args=build_args(resolved),
            # The built-in Dockerfile needs no network: everything is in the context.
            network_mode=None if own_dockerfile else "none",
            on_line=on_line,
        )
    finally:
        context.unlink(missing_ok=True)
    for extra in extras:
        engine.tag(image_id, extra)
