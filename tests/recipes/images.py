"""Images the recipes' pipelines need and that cannot be pulled here, made from the engine's base.

Used by the recipe tests' session (conftest.py) and by the pipeline benchmark
(benchmarks/pipeline.py): uv's image, which the recipes' deps jobs name, and gitlab-ci-local's
helper image, which copies a job's artifacts out with bash and rsync (its own is on Docker Hub).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile

from pathlib import Path
from typing import Any


BASE_IMAGE = "python:3.11-slim-bookworm"  # made by .ci/engine in every engine it starts
HELPER_IMAGE = "ci-image-recipes-helper:rsync"


def extract_uv(wheel: Path, directory: Path) -> Path:
    """uv and uvx from uv's wheel, into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if re.fullmatch(r"uv-[^/]+\.data/scripts/uvx?", member):
                target = directory / Path(member).name
                target.write_bytes(archive.read(member))
                target.chmod(0o755)
    return directory


def build_uv_image(docker_client: Any, uv_binaries: Path, context: Path, name: str) -> str:
    """A stand-in for uv's image `name`: the base (CPython 3.11, no docker client) with uv and
    uvx, as uv's own images add them to the official python ones."""
    context.mkdir(parents=True, exist_ok=True)
    for member in ("uv", "uvx"):
        shutil.copy2(uv_binaries / member, context / member)
    steps = "COPY uv uvx /usr/local/bin/\nENV UV_TOOL_BIN_DIR=/usr/local/bin\n"
    return _build(docker_client, context, name, steps)


def build_helper_image(docker_client: Any, context: Path) -> str:
    """gitlab-ci-local's helper image: the base with the host's rsync, and the libraries it
    links (found by ldd) beside it."""
    rsync = shutil.which("rsync")
    if rsync is None:
        raise RuntimeError("rsync is missing (gitlab-ci-local needs it too); run .ci/setup")
    (context / "lib").mkdir(parents=True, exist_ok=True)
    linked = subprocess.run(["ldd", rsync], capture_output=True, text=True, check=True).stdout
    for library in re.findall(r"=> (/\S+)", linked):
        if not Path(library).name.startswith(("libc.so", "ld-linux")):
            shutil.copy2(library, context / "lib" / Path(library).name)
    shutil.copy2(rsync, context / "rsync.bin")
    wrapper = context / "rsync"
    wrapper.write_text(
        '#!/bin/sh\nLD_LIBRARY_PATH=/usr/local/lib/rsync exec /usr/local/libexec/rsync "$@"\n'
    )
    wrapper.chmod(0o755)
    steps = (
        "COPY lib/ /usr/local/lib/rsync/\n"
        "COPY rsync.bin /usr/local/libexec/rsync\n"
        "COPY rsync /usr/local/bin/rsync\n"
    )
    return _build(docker_client, context, HELPER_IMAGE, steps)


def _build(docker_client: Any, context: Path, name: str, steps: str) -> str:
    (context / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\n{steps}")
    docker_client.images.build(path=str(context), tag=name, rm=True)
    return name
