"""Self-tests of ``tests.support.base_images`` and ``tests.support.real_wheels``.

A two-platform base (linux/amd64 and linux/arm64, from the root file systems of
``.ci/engine``) is pushed to a real ``docker-registry`` on loopback and read back through the
distribution HTTP API, then pulled by digest and run by the real Docker engine, arm64 under
QEMU. The layers and the wheels are cached between sessions.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import struct
import tarfile
import urllib.error
import urllib.request

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import NoReturn

import pytest

from tests.support.base_images import CONFIG_TYPE
from tests.support.base_images import DEFAULT_PATH
from tests.support.base_images import INDEX_TYPE
from tests.support.base_images import LAYER_TYPE
from tests.support.base_images import MANIFEST_TYPE
from tests.support.base_images import BaseImage
from tests.support.base_images import RegistryError
from tests.support.base_images import push_base_image
from tests.support.base_images import rootfs_tarball
from tests.support.real_wheels import real_wheels
from tests.support.registry import MANIFEST_ACCEPT
from tests.support.registry import Registry
from tests.support.registry import registry_binary


if TYPE_CHECKING:
    from collections.abc import Iterator


ENGINE_SOCKET = "unix:///var/tmp/poetry-ci-image/docker.sock"  # where .ci/engine starts dockerd
REPOSITORY = "library/python"
TAG = "3.11-slim-bookworm"
PLATFORMS = ("linux/amd64", "linux/arm64")
EXPECTED = {  # platform -> (architecture, variant, ELF e_machine, platform.machine())
    "linux/amd64": ("amd64", None, 62, "x86_64"),
    "linux/arm64": ("arm64", "v8", 183, "aarch64"),
}
PYTHON = "usr/bin/python3.11"

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when CI is set (as tests/integration/conftest.py does)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def fetch(url: str, accept: str | None = None) -> tuple[dict[str, str], bytes]:
    """GET ``url`` without any proxy: the headers and the body of a 200."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with _OPENER.open(request, timeout=60) as response:
        assert response.status == 200
        return dict(response.headers.items()), response.read()


@dataclass(frozen=True)
class LayerFacts:
    """What one layer blob, streamed from the registry, turned out to be."""

    digest: str
    size: int
    diff_id: str
    python_machine: int | None  # e_machine of usr/bin/python3.11, None if absent


class _Hashing(io.RawIOBase):
    """A readable stream that hashes and counts what is read through it."""

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.source = source
        self.hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        self.hash.update(data)
        self.size += len(data)
        buffer[: len(data)] = data
        return len(data)

    @property
    def digest(self) -> str:
        return f"sha256:{self.hash.hexdigest()}"


def layer_facts(url: str) -> LayerFacts:
    """Stream the layer blob at ``url`` once: its digest, diff_id and Python's ELF machine."""
    machine = None
    with _OPENER.open(url, timeout=60) as response:
        compressed = _Hashing(response)
        with gzip.GzipFile(fileobj=compressed) as unzipped:
            uncompressed = _Hashing(unzipped)
            with tarfile.open(fileobj=uncompressed, mode="r|") as layer:
                for member in layer:
                    if member.name == PYTHON and member.isreg():
                        head = layer.extractfile(member)
                        assert head is not None
                        header = head.read(20)
                        assert header[:4] == b"\x7fELF"
                        machine = struct.unpack_from("<H", header, 18)[0]
            while uncompressed.read(1 << 20):
                pass
    return LayerFacts(compressed.digest, compressed.size, uncompressed.digest, machine)


@pytest.fixture(scope="module")
def tarballs() -> dict[str, Path]:
    """The root file system tarballs of ``.ci/engine``, per platform."""
    try:
        return {platform: rootfs_tarball(platform) for platform in PLATFORMS}
    except FileNotFoundError as error:
        unavailable(str(error))


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A fresh registry on 127.0.0.1 for this module."""
    if registry_binary() is None:
        unavailable("docker-registry is not installed; run .ci/setup")
    with Registry(tmp_path_factory.mktemp("registry")) as served:
        yield served


@pytest.fixture(scope="module")
def base(registry: Registry, tarballs: dict[str, Path]) -> BaseImage:
    """The two-platform base, pushed once."""
    return push_base_image(registry.host, REPOSITORY, TAG, tarballs)


@pytest.fixture(scope="module")
def layers(registry: Registry, base: BaseImage) -> dict[str, LayerFacts]:
    """Each platform's layer blob as the registry serves it."""
    return {
        platform: layer_facts(f"{registry.url}/v2/{REPOSITORY}/blobs/{image.layer_digest}")
        for platform, image in base.platforms.items()
    }


@pytest.fixture(scope="module")
def docker_client() -> Any:
    """A client of the engine the tests use."""
    import docker

    host = os.environ.get("DOCKER_HOST") or ENGINE_SOCKET
    try:
        client = docker.DockerClient(base_url=host, version="auto")
        client.ping()
    except Exception as error:
        unavailable(f"no Docker engine at {host} ({error}); run .ci/setup")
    return client


def test_index_lists_both_platforms(registry: Registry, base: BaseImage) -> None:
    """The tag names an OCI image index of an amd64 and an arm64/v8 manifest."""
    headers, body = fetch(f"{registry.url}/v2/{REPOSITORY}/manifests/{TAG}", MANIFEST_ACCEPT)
    assert headers["Content-Type"] == INDEX_TYPE
    assert headers["Docker-Content-Digest"] == base.digest
    assert f"sha256:{hashlib.sha256(body).hexdigest()}" == base.digest
    assert base.reference == f"{registry.host}/{REPOSITORY}:{TAG}"
    index = json.loads(body)
    assert index["mediaType"] == INDEX_TYPE
    listed = {
        (entry["platform"]["architecture"], entry["platform"].get("variant")): entry["digest"]
        for entry in index["manifests"]
        if entry["platform"]["os"] == "linux" and entry["mediaType"] == MANIFEST_TYPE
    }
    assert listed == {
        EXPECTED[platform][:2]: base.platforms[platform].manifest_digest for platform in PLATFORMS
    }


@pytest.mark.parametrize("platform", PLATFORMS)
def test_manifest_config_names_the_architecture(
    registry: Registry, base: BaseImage, platform: str
) -> None:
    """Each platform's manifest points at a config of that architecture over its one layer."""
    image = base.platforms[platform]
    headers, body = fetch(
        f"{registry.url}/v2/{REPOSITORY}/manifests/{image.manifest_digest}", MANIFEST_ACCEPT
    )
    assert headers["Content-Type"] == MANIFEST_TYPE
    manifest = json.loads(body)
    assert manifest["config"]["mediaType"] == CONFIG_TYPE
    assert manifest["config"]["digest"] == image.config_digest
    assert [(layer["mediaType"], layer["digest"]) for layer in manifest["layers"]] == [
        (LAYER_TYPE, image.layer_digest)
    ]
    _, raw = fetch(f"{registry.url}/v2/{REPOSITORY}/blobs/{image.config_digest}")
    config = json.loads(raw)
    architecture, variant, _, _ = EXPECTED[platform]
    assert (config["os"], config["architecture"], config.get("variant")) == (
        "linux",
        architecture,
        variant,
    )
    assert config["config"] == {"Env": [f"PATH={DEFAULT_PATH}"], "Cmd": ["python3"]}
    assert config["rootfs"] == {"type": "layers", "diff_ids": [image.diff_id]}
    assert "created" not in config


@pytest.mark.parametrize("platform", PLATFORMS)
def test_layer_blob_has_the_manifests_digest(
    registry: Registry, base: BaseImage, layers: dict[str, LayerFacts], platform: str
) -> None:
    """The layer blob the registry serves hashes to the manifest's digest and the diff_id."""
    image = base.platforms[platform]
    _, body = fetch(
        f"{registry.url}/v2/{REPOSITORY}/manifests/{image.manifest_digest}", MANIFEST_ACCEPT
    )
    (descriptor,) = json.loads(body)["layers"]
    facts = layers[platform]
    assert (facts.digest, facts.size) == (descriptor["digest"], descriptor["size"])
    assert facts.diff_id == image.diff_id


@pytest.mark.parametrize("platform", PLATFORMS)
def test_layer_holds_python_of_its_architecture(
    layers: dict[str, LayerFacts], platform: str
) -> None:
    """The layer's usr/bin/python3.11 is an ELF for the platform's machine (62 or 183)."""
    assert layers[platform].python_machine == EXPECTED[platform][2]


def test_pushing_again_is_idempotent(
    registry: Registry, base: BaseImage, tarballs: dict[str, Path]
) -> None:
    """A second push gives the same digests and uploads nothing."""
    everything = {
        digest
        for image in base.platforms.values()
        for digest in (image.layer_digest, image.config_digest)
    }
    assert set(base.uploaded) == everything
    again = push_base_image(registry.host, REPOSITORY, TAG, tarballs)
    assert again == base
    assert again.uploaded == ()


def test_single_platform_push_with_basic_auth(tmp_path: Path) -> None:
    """With one platform the tag names its manifest; credentials go as basic auth."""
    if registry_binary() is None:
        unavailable("docker-registry is not installed; run .ci/setup")
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr" / "bin").mkdir(parents=True)
    (rootfs / "usr" / "bin" / "hello").write_text("#!/bin/sh\necho hello\n")
    tarball = tmp_path / "tiny.tar"
    with tarfile.open(tarball, "w") as tiny:
        tiny.add(rootfs, arcname=".")
    credentials = ("pusher", "s3cret")
    with Registry(tmp_path / "registry", username="pusher", password="s3cret") as secured:
        with pytest.raises(RegistryError, match="401 without credentials"):
            push_base_image(secured.host, "team/tiny", "1", {"linux/amd64": tarball})
        pushed = push_base_image(
            secured.host,
            "team/tiny",
            "1",
            {"linux/amd64": tarball},
            auth=credentials,
            env={"LANG": "C.UTF-8"},
        )
        assert pushed.digest == pushed.platforms["linux/amd64"].manifest_digest
        assert (tmp_path / "layers" / "tiny.tar.gz").is_file()
        request = urllib.request.Request(
            f"{secured.url}/v2/team/tiny/blobs/{pushed.platforms['linux/amd64'].config_digest}",
            headers={"Authorization": "Basic cHVzaGVyOnMzY3JldA=="},  # pusher:s3cret
        )
        with _OPENER.open(request, timeout=10) as response:
            config = json.loads(response.read())
    assert config["config"]["Env"] == [f"PATH={DEFAULT_PATH}", "LANG=C.UTF-8"]
    assert config["architecture"] == "amd64"
    assert "variant" not in config


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("platform", PLATFORMS)
def test_engine_runs_the_base_by_digest(docker_client: Any, base: BaseImage, platform: str) -> None:
    """The engine pulls the base by digest for the platform and its Python runs there."""
    machine = EXPECTED[platform][3]
    if platform == "linux/arm64" and not _arm64_emulation():
        unavailable("arm64 emulation (qemu-aarch64 in binfmt_misc) is not enabled; run .ci/setup")
    reference = base.pinned
    docker_client.images.pull(reference, platform=platform)
    try:
        output = docker_client.containers.run(
            reference,
            ["python3", "-c", "import platform; print(platform.machine())"],
            platform=platform,
            remove=True,
            network_mode="none",
            stderr=True,
        )
    finally:
        docker_client.images.remove(reference)
    assert bytes(output).decode().strip() == machine


def _arm64_emulation() -> bool:
    status = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    try:
        return status.read_text().splitlines()[0] == "enabled"
    except (OSError, IndexError):
        return False


def test_real_wheels_for_both_arches(tmp_path: Path) -> None:
    """real_wheels gives the x86_64 and the aarch64 wheel of a compiled package."""
    wheels = real_wheels(tmp_path / "wheels", "markupsafe==3.0.2", ["x86_64", "aarch64"])
    assert [wheel.name for wheel in wheels] == [
        "MarkupSafe-3.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "MarkupSafe-3.0.2-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ]
    assert all(wheel.parent == tmp_path / "wheels" and wheel.is_file() for wheel in wheels)


def test_real_wheels_for_musl(tmp_path: Path) -> None:
    """real_wheels with libc="musl" gives the musllinux wheel, kept apart from the manylinux one."""
    wheels = real_wheels(tmp_path / "wheels", "markupsafe==3.0.2", ["x86_64"], libc="musl")
    assert [wheel.name for wheel in wheels] == [
        "MarkupSafe-3.0.2-cp311-cp311-musllinux_1_2_x86_64.whl"
    ]


def test_real_wheels_refuses_an_unknown_libc(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown libc 'bionic'; known: glibc, musl"):
        real_wheels(tmp_path / "wheels", "markupsafe==3.0.2", ["x86_64"], libc="bionic")
