"""Same inputs, same bytes: the image is a function of the lock and the options alone.

One project is pushed, then pushed again from another directory, with another Poetry cache,
another umask, another host Python (the suite's `.venv-alt`), under another repository name: the
manifest digest is the same. (Another user: the layers' owners and modes are fixed, see
tests/unit/test_layer_bytes.py. Another time: no byte depends on the clock, since the layers'
mtimes are the epoch and their gzip headers say 0, see tests/unit/test_layer_bytes.py, and the
config's `created` is the epoch, see tests/unit/test_assemble.py.) And a lock that differs by
one package version shares every layer but one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import lock
from tests.integration.conftest import unavailable
from tests.integration.conftest import write_project
from tests.integration.test_build import http_get
from tests.integration.test_build import http_head_digest
from tests.integration.test_push import engine_free
from tests.support.poetry_cli import run_poetry
from tests.support.projects import replace_in


if TYPE_CHECKING:
    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

ALT_POETRY = Path(__file__).resolve().parents[2] / ".venv-alt" / "bin" / "poetry"
DEPENDENCIES = '"alpha (==1.0)", "delta (>=1)", "native (>=1)", "beta (==1.0)"'


@dataclass(frozen=True)
class Pushed:
    project: Path
    reference: str
    digest: str


def push(project: Path, env: dict[str, str], *arguments: str, poetry: Path | None = None) -> str:
    command = [str(poetry)] if poetry else None
    if command is None:
        result = run_poetry(project, "image", "push", *arguments, env=env)
    else:
        result = subprocess.run(
            [*command, "--no-ansi", "image", "push", *arguments],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def digest_of(registry: Registry, reference: str) -> str:
    repository, tag = reference.removeprefix(f"{registry.host}/").split(":")
    return http_head_digest(f"{registry.url}/v2/{repository}/manifests/{tag}")


@pytest.fixture(scope="module")
def first(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    registry: Registry,
    module_env: dict[str, str],
) -> Pushed:
    """The first push, with no engine and the module's cache."""
    where = tmp_path_factory.mktemp("first")
    project = write_project(
        where / "shop",
        index_url=index.url,
        dependencies=DEPENDENCIES,
        table=f'repository = "{registry.host}/repro/ci-image"\nbase = "{BASE_IMAGE}"',
    )
    lock(project, module_env)
    reference = push(project, engine_free(module_env, where))
    return Pushed(project, reference, digest_of(registry, reference))


def test_another_directory_cache_umask_and_repository_give_the_same_digest(
    first: Pushed, registry: Registry, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """A fresh clone elsewhere, another Poetry cache, umask 077, another repository: same bytes."""
    clone = tmp_path / "elsewhere" / "a-checkout-named-otherwise"
    shutil.copytree(first.project, clone)
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "other-cache")}
    previous = os.umask(0o077)
    try:
        reference = push(clone, env, "--repository", f"{registry.host}/renamed/ci-image")
    finally:
        os.umask(previous)
    assert reference.rsplit(":", 1)[1] == first.reference.rsplit(":", 1)[1]
    assert digest_of(registry, reference) == first.digest


def test_a_one_package_bump_shares_every_layer_but_one(
    first: Pushed, registry: Registry, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """beta 1.0 -> 2.0, locked again: one layer differs (and the config); the rest are shared."""
    bumped = tmp_path / "bumped"
    shutil.copytree(first.project, bumped)
    replace_in(bumped / "pyproject.toml", '"beta (==1.0)"', '"beta (==2.0)"')
    lock(bumped, tool_env)
    reference = push(bumped, engine_free(tool_env, tmp_path))
    assert reference != first.reference
    before, after = (manifest(registry, ref) for ref in (first.reference, reference))
    old = [layer["digest"] for layer in before["layers"]]
    new = [layer["digest"] for layer in after["layers"]]
    assert len(old) == len(new)
    assert len(set(new) - set(old)) == 1
    assert before["config"]["digest"] != after["config"]["digest"]


def manifest(registry: Registry, reference: str) -> dict[str, Any]:
    repository, tag = reference.removeprefix(f"{registry.host}/").split(":")
    document: dict[str, Any] = json.loads(
        http_get(f"{registry.url}/v2/{repository}/manifests/{tag}")
    )
    return document


def test_another_host_python_gives_the_same_digest(
    first: Pushed, registry: Registry, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """Poetry on another CPython minor (.venv-alt)."""
    if not ALT_POETRY.exists():
        unavailable(f"{ALT_POETRY} is missing; run .ci/setup (it needs a second CPython)")
    clone = tmp_path / "alt"
    shutil.copytree(first.project, clone)
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "alt-cache")}
    reference = push(
        clone, env, "--repository", f"{registry.host}/alt-python/ci-image", poetry=ALT_POETRY
    )
    assert digest_of(registry, reference) == first.digest
