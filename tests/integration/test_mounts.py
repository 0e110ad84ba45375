"""Blobs a registry has in another repository are mounted, not uploaded again, against the real
registry: the base's layers, and what this runner pushed to another repository before."""

from __future__ import annotations

import json

from typing import TYPE_CHECKING

import pytest

from poetry_ci_image.registry.blob_places import BlobPlaces
from tests.integration.test_push import engine_free
from tests.integration.test_push import make_project
from tests.support.poetry_cli import run_poetry


if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]


def push(project: Path, env: dict[str, str]) -> dict[str, Any]:
    result = run_poetry(project, "image", "push", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_second_projects_first_push_mounts_what_the_first_pushed(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """Two projects, one registry, one runner's cache: the second project's first push mounts
    Poetry's layers, the skeleton and the standard library's bytecode from the first project's
    repository, and uploads only its own dependencies and its config."""
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    first = make_project(tmp_path / "first", index, registry, tool_env, name="mount-first")
    pushed = push(first, env)
    second = make_project(tmp_path / "second", index, registry, tool_env, name="mount-second")
    (second / "pyproject.toml").write_text(
        (second / "pyproject.toml").read_text().replace('"alpha (==1.0)"', '"beta (==1.0)"')
    )
    run_poetry(second, "lock", env=tool_env)
    report = push(second, env)
    before = {layer["digest"] for layer in pushed["platforms"][0]["layers"]}
    layers = report["platforms"][0]["layers"]
    common = [layer for layer in layers if layer["digest"] in before]
    own = [layer for layer in layers if layer["digest"] not in before]
    assert {layer["comment"].split(" ")[0] for layer in common} >= {"the", "bytecode", "Poetry"}
    assert [layer["comment"] for layer in own] == ["beta 1.0"]
    blobs = report["blobs"]
    # The base's layer too: the first push copied it from the stand-in Docker Hub.
    assert (blobs["mounted"], blobs["copied"]) == (len(common) + 1, 0)
    assert blobs["uploaded"] == len(own) + 1  # and the config
    config = blobs["uploaded_bytes"] - sum(layer["size"] for layer in own)
    assert 0 < config < 20_000


def test_a_place_that_is_gone_falls_back_to_an_upload(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """The cache says a repository has a blob it does not have: the registry refuses the mount,
    the blob is uploaded, the push succeeds."""
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    project = make_project(tmp_path / "gone", index, registry, tool_env, name="mount-gone")
    pushed = push(project, {**env, "POETRY_CACHE_DIR": str(tmp_path / "other-cache")})
    poetry_layer = next(
        layer for layer in pushed["platforms"][0]["layers"] if layer["comment"].startswith("Poetry")
    )
    places = BlobPlaces(tmp_path / "cache" / "ci-image" / "places")
    places.remember(registry.host, "nobody/has-it", [poetry_layer["digest"]])
    again = run_poetry(
        project,
        "image",
        "push",
        "--json",
        "--force",
        "--repository",
        f"{registry.host}/mount-gone-again/ci-image",
        "--no-tag-file",
        env=env,
    )
    assert again.returncode == 0, again.stderr
    blobs = json.loads(again.stdout)["blobs"]
    assert blobs["mounted"] == 0
    assert blobs["uploaded"] == len(pushed["platforms"][0]["layers"]) + 1
