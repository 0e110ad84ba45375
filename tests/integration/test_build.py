"""`poetry image build` against a real Docker engine, registry and package index.

One project is locked against the loopback index and built once for the module (assembled on the
host, loaded into the engine); the tests then look inside the image as a CI job would, and
compare it with the same image pushed to a registry and written as an OCI image layout.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import NO_ENGINE
from tests.integration.conftest import lock
from tests.integration.conftest import run_in_image
from tests.integration.conftest import write_project
from tests.support.poetry_cli import run_poetry
from tests.support.projects import replace_in


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.base_images import BaseImage
    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

DEPENDENCIES = (
    '"alpha (==1.0)", "delta (>=1)", "native (>=1)", "winonly (>=1) ; sys_platform == \'win32\'"'
)
# No other test's lock of these packages asks for this layer budget (the default is 64).
LAYERS = 63
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted([d.metadata['Name'].lower(), d.version] for d in m.distributions())))"
)


@dataclass(frozen=True)
class Built:
    project: Path
    reference: str
    stderr: str
    plan: dict[str, Any]


@pytest.fixture(scope="module")
def shop(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    registry: Registry,
    module_env: dict[str, str],
) -> Built:
    """The project built into the engine, with the module's cache (whose layers `pushed` and
    the OCI layout's test then read). Its layer budget is its own, so no other test's image
    has its fingerprint: the engine is the session's, and `build` tags an image of the same
    fingerprint it finds there (test_push pulls one of the same packages) instead of building."""
    project = write_project(
        tmp_path_factory.mktemp("shop") / "shop",
        index_url=index.url,
        dependencies=DEPENDENCIES,
        dev_dependencies='devtool = "^1.0"',
        table=f'repository = "{registry.host}/shop/ci-image"\n'
        f'base = "{BASE_IMAGE}"\n'
        'tag-file = "ci-image.env"\n'
        f"layers = {LAYERS}",
    )
    lock(project, module_env)
    result = run_poetry(project, "image", "build", env=module_env)
    assert result.returncode == 0, result.stderr
    plan = run_poetry(project, "image", "tag", "--json", env=module_env)
    assert plan.returncode == 0, plan.stderr
    return Built(project, result.stdout.strip(), result.stderr, json.loads(plan.stdout))


def test_build_prints_the_reference_only(shop: Built) -> None:
    """stdout is the reference; progress went to stderr."""
    assert shop.reference == shop.plan["reference"]
    assert "Fetching 5 locked distributions" in shop.stderr
    assert f"Loading {shop.reference} into the Docker engine" in shop.stderr
    assert f"Built {shop.reference} in " in shop.stderr
    assert "Step " not in shop.stderr  # no Dockerfile


def test_image_holds_exactly_the_locked_set(shop: Built, docker_client: Any) -> None:
    """The venv holds the plan's names and versions: no project, no win32-only package, no pip."""
    output = run_in_image(docker_client, shop.reference, ["python", "-c", LIST_DISTRIBUTIONS])
    installed = [tuple(item) for item in json.loads(output)]
    planned = sorted((p["name"], p["version"]) for p in packages(shop))
    assert planned == [
        ("alpha", "1.0"),
        ("beta", "2.0"),
        ("delta", "1.0"),
        ("devtool", "1.0"),
        ("native", "1.0"),
    ]
    assert installed == planned


def test_platform_wheel_is_the_targets(shop: Built, docker_client: Any) -> None:
    """Of native's wheels, the image holds the manylinux one for CPython 3.11."""
    wheel = run_in_image(
        docker_client,
        shop.reference,
        ["sh", "-c", "cat /opt/venv/lib/python3.11/site-packages/native-1.0.dist-info/WHEEL"],
    )
    assert "Tag: cp311-cp311-manylinux_2_17_x86_64" in wheel
    planned = {p["name"]: p["file"] for p in packages(shop)}
    assert (
        planned["native"] == "native-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )


def test_imports_work_and_poetry_is_there(shop: Built, docker_client: Any) -> None:
    """The packages import from the venv on PATH; Poetry runs, outside that venv."""
    output = run_in_image(
        docker_client,
        shop.reference,
        [
            "sh",
            "-c",
            "python -c 'import alpha, beta, delta, native, devtool, sys; print(sys.prefix)'"
            " && poetry --version && command -v poetry",
        ],
    )
    from poetry.__version__ import __version__

    assert output.splitlines() == [
        "/opt/venv",
        f"Poetry (version {__version__})",
        "/opt/poetry/bin/poetry",
    ]


def test_labels_say_which_lock_state(shop: Built, docker_api: Any, base_image: BaseImage) -> None:
    """`docker inspect` gives the fingerprint, the target, the base; nothing from the checkout."""
    labels = docker_api.inspect_image(shop.reference)["Config"]["Labels"]
    assert labels["io.github.poetry-ci-image.fingerprint"] == shop.plan["fingerprint"]
    assert labels["io.github.poetry-ci-image.schema"] == "2"
    assert labels["io.github.poetry-ci-image.target"] == "CPython 3.11 on linux/amd64 (glibc 2.36)"
    assert labels["org.opencontainers.image.base.name"] == f"docker.io/library/{BASE_IMAGE}"
    amd64 = base_image.platforms["linux/amd64"].manifest_digest
    assert labels["org.opencontainers.image.base.digest"] == amd64
    assert labels["org.opencontainers.image.title"] == "shop dependencies"
    assert not {"org.opencontainers.image.revision", "org.opencontainers.image.source"} & set(
        labels
    )


def test_poetry_install_in_the_image_installs_only_the_project(
    shop: Built, docker_client: Any, tmp_path: Path
) -> None:
    """A CI job's `poetry install` finds every dependency installed, with no network."""
    checkout = tmp_path / "checkout"
    shutil.copytree(shop.project, checkout)
    output = run_in_image(
        docker_client,
        shop.reference,
        ["poetry", "install", "--no-interaction", "--no-ansi"],
        volumes={str(checkout): {"bind": "/builds/shop", "mode": "rw"}},
        working_dir="/builds/shop",
    )
    assert "No dependencies to install or update" in output
    assert "Installing the current project: shop (0.1.0)" in output


def test_second_build_is_a_no_op(shop: Built, tool_env: dict[str, str]) -> None:
    """The engine has the image: the build says so and does nothing."""
    result = run_poetry(shop.project, "image", "build", env=tool_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == shop.reference
    assert result.stderr == f"{shop.reference} is already in the Docker engine; nothing to build.\n"


def test_version_bump_and_source_edit_do_not_rebuild(
    shop: Built, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """A new version and new code give the same reference, so there is nothing to build."""
    project = tmp_path / "shop"
    shutil.copytree(shop.project, project)
    replace_in(project / "pyproject.toml", 'version = "0.1.0"', 'version = "0.2.0"')
    (project / "src" / "shop" / "__init__.py").write_text("VALUE = 2\n")
    result = run_poetry(project, "image", "build", env=tool_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == shop.reference
    assert "nothing to build" in result.stderr


def packages(built: Built) -> list[dict[str, Any]]:
    packages: list[dict[str, Any]] = built.plan["platforms"][0]["packages"]
    return packages


@dataclass(frozen=True)
class Pushed:
    manifest: dict[str, Any]
    digest: str  # the manifest's, as the registry names it


@pytest.fixture(scope="module")
def pushed(shop: Built, module_env: dict[str, str], registry: Registry) -> Pushed:
    """The same lock pushed with no engine, with the module's cache (the layers `shop`'s build
    wrote): the registry's manifest."""
    result = run_poetry(
        shop.project, "image", "push", "--no-tag-file", env={**module_env, "DOCKER_HOST": NO_ENGINE}
    )
    assert result.returncode == 0, result.stderr
    repository, tag = shop.reference.removeprefix(f"{registry.host}/").split(":")
    url = f"{registry.url}/v2/{repository}/manifests/{tag}"
    return Pushed(json.loads(http_get(url)), http_head_digest(url))


def test_the_engines_image_is_the_registrys(shop: Built, pushed: Pushed, docker_api: Any) -> None:
    """The same lock pushed with no engine: the registry's config digest is the engine's ID."""
    assert docker_api.inspect_image(shop.reference)["Id"] == pushed.manifest["config"]["digest"]


def test_an_oci_layout_without_an_engine_that_skopeo_reads(
    shop: Built, pushed: Pushed, module_env: dict[str, str], registry: Registry, tmp_path: Path
) -> None:
    """--output DIR: an OCI image layout, no engine (with the module's cache, as `shop` and
    `pushed` left it); skopeo copies it to the registry unchanged, as the push sent it."""
    layout = tmp_path / "layout"
    result = run_poetry(
        shop.project,
        "image",
        "build",
        "--output",
        str(layout),
        env={**module_env, "DOCKER_HOST": NO_ENGINE},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == shop.reference
    assert (layout / "oci-layout").is_file()
    tag = shop.reference.rsplit(":", 1)[1]
    inspected = json.loads(skopeo("inspect", f"oci:{layout}:{tag}"))
    assert inspected["Labels"]["io.github.poetry-ci-image.fingerprint"] == shop.plan["fingerprint"]
    copy = f"{registry.host}/shop/copied:{tag}"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:{tag}", f"docker://{copy}")
    copied = http_head_digest(f"{registry.url}/v2/shop/copied/manifests/{tag}")
    assert copied == pushed.digest


def skopeo(*arguments: str) -> str:
    if shutil.which("skopeo") is None:
        from tests.integration.conftest import unavailable

        unavailable("skopeo is not installed; run .ci/setup")
    result = subprocess.run(
        ["skopeo", *arguments], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


ACCEPT = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"


def http_get(url: str) -> bytes:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})
    with opener.open(request, timeout=30) as response:
        body: bytes = response.read()
        return body


def http_head_digest(url: str) -> str:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": ACCEPT})
    with opener.open(request, timeout=30) as response:
        return str(response.headers["Docker-Content-Digest"])
