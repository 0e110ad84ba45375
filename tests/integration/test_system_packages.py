"""System packages from the base's own archive, with no engine: the four real projects' run-time
lists installed into one image, pulled and run with no network; the set is apt's own; the same
digest from another host Python and cache; amd64 and arm64 in one index; and what a tampered or
unreachable archive does, against a loopback copy of the archive.

The archive is the one the base's own apt sources name (read from the base at run time).
"""

from __future__ import annotations

import hashlib
import json
import tarfile

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import lock
from tests.integration.conftest import run_in_image
from tests.integration.conftest import write_project
from tests.integration.test_push import engine_free
from tests.integration.test_sbom import Image
from tests.integration.test_sbom import base_dpkg_packages
from tests.integration.test_sbom import components
from tests.support.archive_proxy import ArchiveProxy
from tests.support.base_images import rootfs_tarball
from tests.support.poetry_cli import run_poetry
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

# What the four projects of issue 23 install at run time, read from their Dockerfiles.
COMMERCE = ["libffi8", "libgdk-pixbuf-2.0-0", "liblcms2-2", "libopenjp2-7", "libssl3",
            "libtiff6", "libwebp7", "libpq5", "libmagic1", "libxslt1-dev", "libcurl4",
            "media-types"]  # fmt: skip
AUTOMATION = ["curl", "git", "media-types", "libxml2", "libxmlsec1-openssl", "libmariadb3",
              "openssl"]  # fmt: skip
RECIPES = ["gosu", "iproute2", "libldap-common", "libldap-2.5-0"]
WALLET = ["curl", "pkg-config", "build-essential", "automake"]
EVERY = sorted({*COMMERCE, *AUTOMATION, *RECIPES, *WALLET, "gettext"})  # gettext: msgfmt
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
LIBRARIES = ["pq", "ffi", "magic", "xslt", "xml2", "xmlsec1-openssl", "mariadb", "lcms2",
             "openjp2", "tiff", "webp", "curl", "gdk_pixbuf-2.0"]  # fmt: skip


def base_archive() -> str:
    """The archive and suite the base's own sources.list names (`http://... bookworm`)."""
    with tarfile.open(rootfs_tarball("linux/amd64")) as tar:
        member = tar.extractfile("./etc/apt/sources.list")
        assert member is not None
        line = next(line for line in member.read().decode().splitlines() if line.startswith("deb "))
    _, uri, suite, *_ = line.split()
    return f"{uri} {suite}"


def system_project(
    where: Path,
    index: PackageIndex,
    registry: Registry,
    env: dict[str, str],
    packages: list[str],
    extra: str = "",
    name: str = "system",
) -> Path:
    table = (
        f'repository = "{registry.host}/{name}/ci-image"\nbase = "{BASE_IMAGE}"\npoetry = false\n'
        f"system-packages = {json.dumps(packages)}\n{extra}"
    )
    project = write_project(where, index_url=index.url, dependencies="", table=table, name=name)
    lock(project, env)
    return project


def push(project: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    result = run_poetry(project, "image", "push", "--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    report["stderr"] = result.stderr
    return report


@pytest.fixture(scope="module")
def every(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    registry: Registry,
    module_env: dict[str, str],
) -> dict[str, Any]:
    """The four lists in one image, pushed with no engine by a runner with its own cache."""
    where = tmp_path_factory.mktemp("every")
    project = system_project(where / "project", index, registry, module_env, EVERY)
    env = {**engine_free(module_env, where), "POETRY_CACHE_DIR": str(where / "cache")}
    report = push(project, env)
    report["project"] = project
    return report


def test_the_run_time_lists_work_in_the_image_with_no_network(
    every: dict[str, Any], docker_client: Any
) -> None:
    """Pulled and run with no network: the programs run, the libraries are found as ctypes
    finds them (the loader's cache) and load, dpkg knows every package, `apt-get check` is clean,
    and `cc` (an alternative) compiles."""
    reference = every["reference"]
    docker_client.images.pull(reference)
    programs = run_in_image(
        docker_client,
        reference,
        [
            "sh",
            "-c",
            "git --version && msgfmt --version | head -1 && curl --version | head -1 && "
            "gosu --version && pkg-config --version && automake --version | head -1 && "
            "printf 'int main(void){return 0;}' > /tmp/a.c && cc /tmp/a.c -o /tmp/a && /tmp/a "
            "&& echo compiled && apt-get check >/dev/null && echo apt-check-clean",
        ],
    )
    lines = programs.splitlines()
    assert lines[0].startswith("git version ")
    assert lines[1].startswith("msgfmt (GNU gettext-tools)")
    assert lines[2].startswith("curl ")
    assert lines[-2:] == ["compiled", "apt-check-clean"]
    load = (
        "import ctypes, ctypes.util, json; names = {n: ctypes.util.find_library(n) for n in "
        f"{LIBRARIES!r}}}; [ctypes.CDLL(f) for f in names.values()]; print(json.dumps(names))"
    )
    found = json.loads(run_in_image(docker_client, reference, ["python3", "-c", load]))
    assert found["pq"] == "libpq.so.5"
    assert all(found.values()), found
    status = run_in_image(
        docker_client,
        reference,
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *EVERY],
    )
    assert sorted(line.split()[0] for line in status.splitlines() if line.endswith("ii ")) == EVERY


def test_the_sbom_names_each_system_package_and_its_deb(
    every: dict[str, Any], registry: Registry
) -> None:
    """Besides the base's packages, each package installed (listed or pulled in) is a Debian
    component with the sha256 of the .deb installed; the base's have none (not ours to say)."""
    _, sbom = Image(registry, every["reference"]).sbom()
    debs = {c["name"]: c for c in components(sbom) if c["purl"].startswith("pkg:deb/")}
    base = {name for name, _ in base_dpkg_packages()}

    assert set(EVERY) <= set(debs)
    added = set(debs) - base
    assert set(EVERY) - base <= added
    for name in added:
        (sha,) = [h["content"] for h in debs[name]["hashes"]]
        assert len(sha) == 64, name
    assert all("hashes" not in debs[name] for name in base if name not in EVERY)


def test_the_image_installs_what_apt_would(
    every: dict[str, Any], docker_client: Any, registry: Registry
) -> None:
    """The packages added are the ones `apt-get install --no-install-recommends` installs in a
    container of the base (against the same archive), at the same versions."""
    from tests.integration.test_build import http_get

    reference = every["reference"]
    repository, tag = reference.removeprefix(f"{registry.host}/").split(":")
    manifest = json.loads(http_get(f"{registry.url}/v2/{repository}/manifests/{tag}"))
    config = json.loads(
        http_get(f"{registry.url}/v2/{repository}/blobs/{manifest['config']['digest']}")
    )
    label = config["config"]["Labels"]["io.github.poetry-ci-image.system-packages"]
    ours = sorted(item.replace("=", " ", 1) for item in label.split(","))
    simulated = docker_client.containers.run(
        BASE_IMAGE,
        [
            "sh",
            "-c",
            "apt-get update -qq >/dev/null 2>&1; apt-get install -s -qq "
            f"--no-install-recommends {' '.join(EVERY)} | grep '^Inst '",
        ],
        remove=True,
    ).decode()
    apts = sorted(
        f"{line.split()[1]} {line.split()[2].strip('(')}" for line in simulated.splitlines()
    )
    assert ours == apts


def test_another_host_python_and_cache_give_the_same_digest(
    every: dict[str, Any], tool_env: dict[str, str], tmp_path: Path, registry: Registry
) -> None:
    """The same request from another runner (its own cache, another repository): the same
    image, byte for byte."""
    project = every["project"]
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    again = push(project, env, "--repository", f"{registry.host}/system-again/ci-image")
    assert again["digest"] == every["digest"]


def test_amd64_and_arm64_in_one_index(
    tmp_path: Path,
    index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
    docker_client: Any,
) -> None:
    """Each platform's packages from its own index, unpacked on this host: an arm64 runner
    (QEMU here) runs git and finds libpq."""
    project = system_project(
        tmp_path / "project",
        index,
        registry,
        tool_env,
        ["git", "libpq5"],
        'platform = ["linux/amd64", "linux/arm64"]\n',
        name="both",
    )
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    reference = push(project, env)["reference"]
    docker_client.images.pull(reference, platform="linux/arm64")
    output = run_in_image(
        docker_client,
        reference,
        ["sh", "-c", "uname -m && git --version && dpkg -s libpq5 | grep ^Architecture"],
        platform="linux/arm64",
    )
    assert output.splitlines() == ["aarch64", output.splitlines()[1], "Architecture: arm64"]
    assert output.splitlines()[1].startswith("git version ")


# A loopback copy of the archive: tampered with, or gone ----------------------------------------


@pytest.fixture
def copy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    uri, _ = base_archive().split()
    cache = tmp_path_factory.getbasetemp() / "archive-copy"  # shared: the archive's own bytes
    with ArchiveProxy(uri, cache) as proxy:
        yield proxy


def copy_repository(tmp_path: Path) -> str:
    """A repository of the test's own: the registry's layer cache of another test's push would
    give libpq5's layer without its .deb being fetched (and so checked) again."""
    return "copy-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:8]


def through_copy(
    tmp_path: Path,
    index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
    copy: ArchiveProxy,
) -> tuple[Path, dict[str, str]]:
    _, suite = base_archive().split()
    source = f"deb [signed-by={KEYRING}] {copy.url} {suite} main"
    project = system_project(
        tmp_path / "project",
        index,
        registry,
        tool_env,
        ["libpq5"],
        f"system-sources = [{json.dumps(source)}]\n",
        name=copy_repository(tmp_path),
    )
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    return project, env


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        pytest.param(
            r"/InRelease$",
            "failed the signature check of the base's gpgv: a signature does not match its "
            "content. Nothing was pushed.",
            id="the release file",
        ),
        pytest.param(
            r"/by-hash/SHA256/|/Packages\.xz$",
            "is not the file the archive's signed index names",
            id="a Packages index",
        ),
        pytest.param(
            r"/libpq5_.*\.deb$",
            "is not the file the archive's signed index names",
            id="a package",
        ),
    ],
)
def test_a_tampered_file_is_refused_and_nothing_pushed(
    tmp_path: Path,
    index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
    copy: ArchiveProxy,
    pattern: str,
    says: str,
) -> None:
    project, env = through_copy(tmp_path, index, registry, tool_env, copy)
    copy.corrupt(pattern)
    result = run_poetry(project, "image", "push", env=env)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    tag = run_poetry(project, "image", "tag", env=tool_env).stdout.strip().rsplit(":", 1)[1]
    assert manifest_status(registry.host, f"{copy_repository(tmp_path)}/ci-image", tag) == 404


def test_a_passing_outage_is_tried_again(
    tmp_path: Path,
    index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
    copy: ArchiveProxy,
) -> None:
    """Two 503s for the release file, then the archive answers: the push goes through."""
    project, env = through_copy(tmp_path, index, registry, tool_env, copy)
    copy.fail(r"/InRelease$", 503, 2)
    report = push(project, env, "-v")
    assert report["pushed"] is True
    assert "failed (HTTP 503); trying again" in report["stderr"]


def test_an_archive_that_is_gone_is_said(
    tmp_path: Path,
    index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
    copy: ArchiveProxy,
) -> None:
    project, env = through_copy(tmp_path, index, registry, tool_env, copy)
    copy.stop()
    result = run_poetry(project, "image", "push", env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-2].startswith(
        "Error: The archive cannot give the release file of http://127.0.0.1:"
    )
    assert "connection refused" in lines[-2]
    assert lines[-1].startswith("Check the network and the archive's address")


def test_an_unknown_package_names_the_release_searched(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    project = system_project(
        tmp_path / "project", index, registry, tool_env, ["libpq6"], name="unknown"
    )
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    result = run_poetry(project, "image", "push", env=env)
    uri, suite = base_archive().split()
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-2:] == [
        f"Error: No package named libpq6 in {uri} {suite}.",
        "Check the name (`apt-cache search` in the base finds it), and that the base's apt "
        "sources (or system-sources) include the component that has it.",
    ]
