"""The registry as the layer cache, for runners that keep nothing between jobs: each push runs
with a Poetry cache of its own, as on a fresh machine, and what it finds it finds in the
repository's layer cache (the `ci-image-cache` tag) through the registry's API, with no engine.

What these pin: a one-package bump on a fresh runner fetches and sends that package alone and
gives the digest a warm runner gives; packages that share a layer leave the cache whole (each
package's own layer, written early, is not in the image then); two pushes of different locks
racing on one repository both land, and both keep their entries in the cache.
"""

from __future__ import annotations

import json

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import lock
from tests.integration.conftest import write_project
from tests.integration.test_push import engine_free
from tests.support.poetry_cli import run_poetry
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.slow]

DISTRIBUTIONS = (".whl", ".tar.gz", ".zip")


def project_of(
    where: Path,
    index: PackageIndex,
    registry: Registry,
    env: dict[str, str],
    dependencies: str,
    settings: str = "",
) -> Path:
    table = f'repository = "{registry.host}/cached/ci-image"\nbase = "{BASE_IMAGE}"\npoetry = false'
    table += settings
    project = write_project(where, index_url=index.url, dependencies=dependencies, table=table)
    lock(project, env)
    return project


def push(project: Path, env: dict[str, str], runner: Path, *args: str) -> dict[str, Any]:
    """`push --json` on a runner whose Poetry cache is `runner/cache` (empty when new)."""
    runner.mkdir(parents=True, exist_ok=True)
    env = {**engine_free(env, runner), "POETRY_CACHE_DIR": str(runner / "cache")}
    result = run_poetry(project, "image", "push", "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def downloads(index: PackageIndex) -> list[str]:
    """The distribution files the index served since its requests were last cleared."""
    return sorted(
        request.path.rsplit("/", 1)[-1]
        for request in index.requests
        if request.method == "GET" and request.path.endswith(DISTRIBUTIONS)
    )


def layer_names(report: dict[str, Any]) -> list[str]:
    (platform,) = report["platforms"]
    return [layer["comment"] for layer in platform["layers"]]


def test_a_fresh_runner_sends_only_the_bumped_packages_layer(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """beta 1.0 -> 2.0 pushed by a runner that never ran: beta 2.0 is the one file fetched and
    its layer the one layer uploaded (with the config); the digest is the one a runner with the
    old lock's cache in hand gives."""
    project = project_of(tmp_path / "bump", index, registry, tool_env, '"alpha (==1.0)", "beta"')
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text().replace('"beta"', '"beta (==1.0)"')
    )
    lock(project, tool_env)
    push(project, tool_env, tmp_path / "first-runner")

    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text().replace('"beta (==1.0)"', '"beta (==2.0)"')
    )
    lock(project, tool_env)
    index.clear_requests()
    fresh = push(project, tool_env, tmp_path / "fresh-runner")

    assert downloads(index) == ["beta-2.0-py3-none-any.whl"]
    assert fresh["pushed"] is True
    blobs = fresh["blobs"]
    assert (blobs["uploaded"], blobs["copied"]) == (2, 0), blobs  # beta's layer and the config
    assert blobs["present"] >= len(layer_names(fresh)) - 1
    assert any(name.startswith("beta 2.0") for name in layer_names(fresh))

    warm = push(
        project, tool_env, tmp_path / "first-runner", "--repository", f"{registry.host}/warm/img"
    )
    assert warm["digest"] == fresh["digest"]


def test_packages_sharing_a_layer_leave_the_cache_whole_for_the_next_fresh_runner(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """With `layers = 2` one package has a layer of its own and two share one; a fresh runner
    that pushes the same lock again (`--force`, to another tag's worth of work) fetches nothing:
    the first push's cache names every layer of its image, and only those."""
    repository = f"{registry.host}/shared-layers/ci-image"
    project = project_of(
        tmp_path / "shared",
        index,
        registry,
        tool_env,
        '"alpha (==1.0)", "beta (==1.0)", "delta"',
        "\nlayers = 2",
    )
    first = push(project, tool_env, tmp_path / "first-runner", "--repository", repository)
    assert [name.split(":")[0] for name in layer_names(first)].count("pure") == 1, first

    index.clear_requests()
    again = push(
        project, tool_env, tmp_path / "fresh-runner", "--repository", repository, "--force"
    )

    assert downloads(index) == []
    assert again["digest"] == first["digest"]
    assert again["blobs"]["uploaded"] == 0, again["blobs"]


def test_two_locks_racing_on_one_repository_both_land_and_both_are_kept(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """Two fresh runners push two locks at once; both tags land, and a third fresh runner whose
    lock takes a package from each fetches nothing: the cache kept both pushes' layers."""
    left = project_of(tmp_path / "left", index, registry, tool_env, '"alpha (==1.0)", "delta"')
    right = project_of(tmp_path / "right", index, registry, tool_env, '"alpha (==1.0)", "native"')
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(
            pool.map(
                lambda job: push(job[0], tool_env, tmp_path / job[1]),
                [(left, "left-runner"), (right, "right-runner")],
            )
        )
    for report in reports:
        repository, tag = report["reference"].removeprefix(f"{registry.host}/").split(":")
        assert manifest_status(registry.host, repository, tag) == 200

    both = project_of(
        tmp_path / "both", index, registry, tool_env, '"alpha (==1.0)", "delta", "native"'
    )
    index.clear_requests()
    third = push(both, tool_env, tmp_path / "third-runner")

    assert downloads(index) == []
    assert third["blobs"]["uploaded"] == 1  # the config: every layer was in the registry
