"""One tag for linux/amd64 and linux/arm64, pushed from this amd64 host with no engine.

The project depends on MarkupSafe (real wheels with a compiled extension, one per architecture)
and a pure package. The push makes an image index; each platform's layers hold that platform's
wheel; the engine runs the amd64 image, and the arm64 one under QEMU user emulation.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile

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
from tests.integration.test_reproducible import ALT_POETRY
from tests.integration.test_reproducible import push
from tests.support.poetry_cli import run_poetry
from tests.support.registry import http_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

EXTENSION = "opt/venv/lib/python3.11/site-packages/markupsafe/_speedups.cpython-311-{}-linux-gnu.so"
TWO = 'platform = ["linux/amd64", "linux/arm64"]'
ELF_MACHINE = {"x86_64": 62, "aarch64": 183}


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    registry: Registry,
    module_env: dict[str, str],
    markupsafe: None,
) -> Path:
    """The two-platform project, locked with the module's cache."""
    project = write_project(
        tmp_path_factory.mktemp("multi") / "site",
        name="site",
        index_url=index.url,
        dependencies='"markupsafe (==3.0.2)", "beta (==2.0)"',
        table=f'repository = "{registry.host}/site/ci-image"\nbase = "{BASE_IMAGE}"\n{TWO}',
    )
    lock(project, module_env)
    return project


@pytest.fixture(scope="module")
def pushed(
    project: Path, module_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The push of both platforms, with no engine and the module's cache: the reference."""
    env = engine_free(module_env, tmp_path_factory.mktemp("no-engine"))
    result = run_poetry(project, "image", "push", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def document(registry: Registry, repository: str, reference: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        http_get(f"{registry.url}/v2/{repository}/manifests/{reference}")
    )
    return loaded


def platform_manifests(registry: Registry, reference: str) -> dict[str, dict[str, Any]]:
    repository, tag = reference.removeprefix(f"{registry.host}/").split(":")
    index = document(registry, repository, tag)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    return {
        f"{m['platform']['os']}/{m['platform']['architecture']}": document(
            registry, repository, m["digest"]
        )
        for m in index["manifests"]
    }


def test_one_tag_names_both_platforms(pushed: str, registry: Registry) -> None:
    """The tag names the platforms, and points at an index listing amd64 and arm64 (v8)."""
    tag = pushed.rsplit(":", 1)[1]
    assert tag.startswith("py3.11-amd64-arm64-")
    repository = pushed.removeprefix(f"{registry.host}/").split(":")[0]
    index = document(registry, repository, tag)
    assert [m["platform"] for m in index["manifests"]] == [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64", "variant": "v8"},
    ]


def test_each_platform_holds_its_own_compiled_extension(pushed: str, registry: Registry) -> None:
    """The arm64 layers hold MarkupSafe's aarch64 extension, the amd64 ones the x86_64 one;
    the pure package's layer is the same blob in both."""
    repository = pushed.removeprefix(f"{registry.host}/").split(":")[0]
    manifests = platform_manifests(registry, pushed)
    for platform, machine in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        found = None
        for layer in manifests[platform]["layers"]:
            blob = http_get(f"{registry.url}/v2/{repository}/blobs/{layer['digest']}")
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
                try:
                    member = tar.extractfile(EXTENSION.format(machine))
                except KeyError:
                    continue
                assert member is not None
                found = member.read()
        assert found is not None, f"no {machine} extension in the {platform} image"
        assert int.from_bytes(found[18:20], "little") == ELF_MACHINE[machine]
    amd = {layer["digest"] for layer in manifests["linux/amd64"]["layers"]}
    arm = {layer["digest"] for layer in manifests["linux/arm64"]["layers"]}
    assert len(amd & arm) >= 1  # at least the pure package's layer


def test_the_engine_runs_the_amd64_image(pushed: str, docker_client: Any) -> None:
    """Pulled on this amd64 host: the x86_64 extension imports."""
    image = docker_client.images.pull(pushed, platform="linux/amd64")
    output = docker_client.containers.run(
        image.id,
        ["python", "-c", "import markupsafe._speedups, platform; print(platform.machine())"],
        remove=True,
        network_mode="none",
    )
    assert output == b"x86_64\n"


def test_the_engine_runs_the_arm64_image_under_emulation(pushed: str, docker_client: Any) -> None:
    """Pulled for linux/arm64 and run under QEMU: the aarch64 extension imports; Poetry runs."""
    if shutil.which("qemu-aarch64-static") is None:
        unavailable("qemu-user-static is not installed; run .ci/setup")
    image = docker_client.images.pull(pushed, platform="linux/arm64")
    output = docker_client.containers.run(
        image.id,
        [
            "sh",
            "-c",
            "python -c 'import markupsafe._speedups, platform; print(platform.machine())'",
        ],
        remove=True,
        network_mode="none",
        platform="linux/arm64",
    )
    assert output == b"aarch64\n"


def test_tag_json_gives_the_plan_of_each_platform(project: Path, tool_env: dict[str, str]) -> None:
    """`tag --json`: one entry per platform, each with that platform's MarkupSafe wheel."""
    result = run_poetry(project, "image", "tag", "--json", env=tool_env)
    assert result.returncode == 0, result.stderr
    platforms = json.loads(result.stdout)["platforms"]
    files = {
        entry["target"]["platform"]: next(
            p["file"] for p in entry["packages"] if p["name"] == "markupsafe"
        )
        for entry in platforms
    }
    assert "x86_64" in files["linux/amd64"]
    assert "aarch64" in files["linux/arm64"]


def test_the_index_digest_is_the_same_from_elsewhere(
    pushed: str, project: Path, registry: Registry, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """Another directory, another cache, another repository and another host Python (the
    suite's .venv-alt): the same index digest, bytecode and all."""
    if not ALT_POETRY.exists():
        unavailable(f"{ALT_POETRY} is missing; run .ci/setup (it needs a second CPython)")
    clone = tmp_path / "clone"
    shutil.copytree(project, clone)
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    push(clone, env, "--repository", f"{registry.host}/site-again/ci-image", poetry=ALT_POETRY)
    tag = pushed.rsplit(":", 1)[1]
    first = http_head_digest(f"{registry.url}/v2/site/ci-image/manifests/{tag}")
    again = http_head_digest(f"{registry.url}/v2/site-again/ci-image/manifests/{tag}")
    assert again == first


def test_a_package_without_a_wheel_for_one_platform_stops_before_any_push(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """`native` has an x86_64 wheel only: the push names it and linux/arm64, and sends nothing."""
    project = write_project(
        tmp_path / "x86only",
        index_url=index.url,
        dependencies='"native (==1.0)"',
        table=f'repository = "{registry.host}/x86only/ci-image"\nbase = "{BASE_IMAGE}"\n{TWO}',
    )
    lock(project, tool_env)
    result = run_poetry(project, "image", "push", env=engine_free(tool_env, tmp_path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: native 1.0 has no distribution in poetry.lock that CPython 3.11 on linux/arm64 "
        "(glibc 2.36) can install.\n"
        "Choose another target (python, platform, base), or a version of the package that "
        "ships files for it, then run `poetry lock`.\n"
    )
    assert http_status(f"{registry.url}/v2/x86only/ci-image/tags/list") == 404  # nothing pushed
