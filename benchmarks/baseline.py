"""The baseline: the plain Dockerfile recipe teams use today, tagged by an md5 of its inputs.

Poetry is installed in the image and runs `poetry install --no-root` from the lock; the tag is
the md5 of pyproject.toml + poetry.lock + Dockerfile. Its CI job (the deps job of the plain
recipe) is `docker build` then `docker push`, on the benchmark's engine with its classic builder,
to the benchmark's registry, from the same base image the plugin reads there.
"""

from __future__ import annotations

import hashlib
import re
import shutil

from typing import TYPE_CHECKING

from benchmarks.profiling import run_streamed
from benchmarks.profiling import segments
from benchmarks.workspace import HOST_CA_BUNDLE


if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence
    from pathlib import Path

    from benchmarks.profiling import Timeline
    from benchmarks.results import Segment


CA_FILE = "host-ca-bundle.crt"
MD5_INPUTS = ("pyproject.toml", "poetry.lock", "Dockerfile")

DOCKERFILE = """\
FROM {base}

# Not part of the recipe: this machine reaches the index through an HTTPS proxy whose CA only
# the host trusts, so the build trusts the host's CA bundle.
COPY {ca_file} /etc/ssl/certs/{ca_file}
ENV PIP_CERT=/etc/ssl/certs/{ca_file} \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/{ca_file} \\
    SSL_CERT_FILE=/etc/ssl/certs/{ca_file}
# The index pip installs Poetry from: the one the benchmark was given, as for the plugin.
ARG PIP_INDEX_URL

{system}# The recipe: Poetry in its own venv (the base image has no pip; a venv brings one), the
# project's dependencies in an in-project venv, Poetry's and pip's caches left out.
ENV POETRY_VERSION={poetry_version} \\
    POETRY_HOME=/opt/poetry \\
    POETRY_NO_INTERACTION=1 \\
    POETRY_VIRTUALENVS_IN_PROJECT=true \\
    POETRY_CACHE_DIR=/tmp/poetry-cache
RUN python3 -m venv "$POETRY_HOME" \\
 && "$POETRY_HOME/bin/pip" install --no-cache-dir "poetry==$POETRY_VERSION"
ENV PATH=/app/.venv/bin:$POETRY_HOME/bin:$PATH
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --no-root --no-interaction && rm -rf "$POETRY_CACHE_DIR"
"""


# Debian packages, the way teams' Dockerfiles install them (figure 12): from the base's own apt
# sources, before Poetry is installed, the lists removed in the same layer.
SYSTEM_PACKAGES = """\
# The system packages the project needs at run time, from the base's own apt sources.
RUN apt-get update \\
 && apt-get install -y --no-install-recommends {packages} \\
 && rm -rf /var/lib/apt/lists/*

"""


def dockerfile(poetry_version: str, base: str, system_packages: Sequence[str] = ()) -> str:
    """The plain recipe; with `system_packages`, a step that apt-installs them first."""
    system = SYSTEM_PACKAGES.format(packages=" ".join(system_packages)) if system_packages else ""
    return DOCKERFILE.format(
        base=base, ca_file=CA_FILE, poetry_version=poetry_version, system=system
    )


def prepare_context(
    project: Path,
    context: Path,
    poetry_version: str,
    base: str,
    system_packages: Sequence[str] = (),
) -> Path:
    """The build context a team has: the project's pyproject.toml and poetry.lock, a Dockerfile
    (that apt-installs `system_packages` too, when given)."""
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    for name in ("pyproject.toml", "poetry.lock"):
        shutil.copy2(project / name, context / name)
    (context / "Dockerfile").write_text(
        dockerfile(poetry_version, base, system_packages), encoding="utf-8"
    )
    shutil.copy2(HOST_CA_BUNDLE, context / CA_FILE)
    return context


def md5_tag(context: Path) -> str:
    """`cat pyproject.toml poetry.lock Dockerfile | md5sum`."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in MD5_INPUTS:
        digest.update((context / name).read_bytes())
    return digest.hexdigest()


def build(
    context: Path,
    reference: str,
    *,
    index_url: str,
    env: Mapping[str, str],
    network: str | None = None,
) -> Timeline:
    """`docker build` of the context, timed line by line; `network`: that of its RUN steps'
    containers (`--network`), else the engine's default bridge."""
    return run_streamed(
        [
            "docker",
            "build",
            *(["--network", network] if network else []),
            "--build-arg",
            f"PIP_INDEX_URL={index_url}",
            "--tag",
            reference,
            str(context),
        ],
        cwd=context,
        env=env,
    )


def push(reference: str, *, cwd: Path, env: Mapping[str, str]) -> Timeline:
    """`docker push` of the image (its layers, then its manifest)."""
    return run_streamed(["docker", "push", reference], cwd=cwd, env=env)


def build_parts(timeline: Timeline) -> list[Segment]:
    """The build's parts: the context sent, each Dockerfile step, the tag."""
    return segments(timeline, _build_step, ("docker CLI: send the context", "docker"))


def push_parts(timeline: Timeline) -> list[Segment]:
    """The push as one part: the engine compresses and uploads the layers, then the manifest."""
    return segments(timeline, lambda line: None, ("docker push: compress, upload", "upload"))


# The classic builder's output: a line per Dockerfile step.
_STEP = re.compile(r"^Step \d+/\d+ : (?P<instruction>.*)$")
_OTHER_INSTRUCTIONS = ("ARG", "ENV", "LABEL", "WORKDIR", "CMD")
_OTHER = "other instructions (ARG, ENV, WORKDIR, LABEL)"


def _step_name(line: str) -> str | None:
    """A short name for a classic-builder step line; None for any other line."""
    match = _STEP.match(line)
    if match is None:
        return None
    instruction = match["instruction"]
    keyword = instruction.split(" ", 1)[0].upper()
    if keyword == "FROM":
        return "FROM the base image (pulled when the engine lacks it)"
    if keyword in _OTHER_INSTRUCTIONS:
        return _OTHER
    return _describe(instruction)


def _describe(instruction: str) -> str:
    known = (
        ('install --no-cache-dir "poetry==', "RUN venv + pip install poetry (from the index)"),
        ("poetry install --no-root", "RUN poetry install --no-root (from the index)"),
        (_APT_INSTALL, "RUN apt-get update + install the system packages (from the archive)"),
    )
    for needle, name in known:
        if needle in instruction:
            return name
    text = " ".join(instruction.split())
    return text if len(text) <= 60 else text[:57] + "..."


_APT_INSTALL = "apt-get install"


def _build_step(line: str) -> tuple[str, str] | None:
    if line.startswith("Successfully built"):
        return "docker CLI: tag, exit", "docker"
    step = _step_name(line)
    if step is None:
        return None
    return f"engine: {step}", "system" if _APT_INSTALL in line else "engine"
