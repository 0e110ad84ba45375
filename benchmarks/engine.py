"""The benchmark's own Docker engine, and what the benchmark reads from its registry.

The engine is the one `.ci/engine` starts, with its own state directory, so that emptying its
caches never touches the engine the test suite uses. "Cold" means what a fresh docker-in-docker
runner has: no image at all (not even the base: the build pulls it from the registry), no
stopped container, no build cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.base_images import ROOTFS_TARBALLS
from tests.support.base_images import push_base_image

from benchmarks.timing import run
from benchmarks.workspace import ROOT


BENCH_STATE = "/var/tmp/poetry-ci-image-bench"
# The base both approaches build on, pushed to the benchmark's registry (tests/support/
# base_images.py) from the bookworm root file systems .ci/engine makes: CPython 3.11, for
# linux/amd64 and linux/arm64 (an image index).
BASE_REPOSITORY = "library/python"
BASE_TAG = "3.11-slim-bookworm"
PLATFORMS = ("linux/amd64", "linux/arm64")
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def start_engine(state: str = BENCH_STATE) -> str:
    """Start (or reuse) the benchmark's engine with its base image; return its DOCKER_HOST."""
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env["CI_IMAGE_STATE"] = state
    done = run([str(ROOT / ".ci" / "engine")], cwd=ROOT, env=env, timeout=900)
    return done.stdout.strip().splitlines()[-1]


def push_base(registry_host: str, state: str = BENCH_STATE) -> str:
    """The bookworm base for both platforms (.ci/engine's root file systems in `state`), pushed
    to the registry as an index; its reference."""
    tarballs = {name: Path(state) / ROOTFS_TARBALLS[name, "glibc"] for name in PLATFORMS}
    for name, tarball in tarballs.items():
        if not tarball.is_file():
            raise SystemExit(f"no {name} root file system at {tarball}: run .ci/engine")
    return push_base_image(registry_host, BASE_REPOSITORY, BASE_TAG, tarballs).reference


@dataclass
class Engine:
    docker_host: str
    _api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            import docker

            self._api = docker.APIClient(base_url=self.docker_host, version="auto", timeout=600)
        return self._api

    def version(self) -> str:
        info = self.api.version()
        return f"{info.get('Version', '?')} (API {info.get('ApiVersion', '?')})"

    def make_cold(self, keep: tuple[str, ...] = ()) -> None:
        """Remove every image but `keep`, every stopped container and the build cache."""
        import docker.errors

        self.api.prune_containers()
        kept = {self.api.inspect_image(name)["Id"] for name in keep}
        for _ in range(5):
            images = [i for i in self.api.images(all=True) if i["Id"] not in kept]
            if not images:
                break
            for image in images:
                try:
                    self.api.remove_image(image["Id"], force=True)
                except docker.errors.NotFound:
                    pass
                except docker.errors.APIError as error:
                    if error.status_code != 409:  # a parent still in use: next round
                        raise
        else:
            raise RuntimeError("the engine keeps images that cannot be removed")
        with contextlib.suppress(docker.errors.APIError):  # an engine without BuildKit
            self.api.prune_builds()

    def image_size(self, reference: str) -> int:
        return int(self.api.inspect_image(reference)["Size"])

    def pull(self, reference: str) -> None:
        """`docker pull` (from the benchmark's loopback registry)."""
        repository, tag = reference.rsplit(":", 1)
        self.api.pull(repository, tag=tag)

    def tag(self, image: str, reference: str) -> None:
        repository, tag = reference.rsplit(":", 1)
        self.api.tag(image, repository, tag=tag)

    def history(self, reference: str) -> list[dict[str, Any]]:
        """The image's history entries, oldest first."""
        return list(reversed(self.api.history(reference)))

    def remove(self, reference: str) -> None:
        """Untag `reference`; the image goes, with the parents no other image has (its build's
        own steps), so that the layer cache is what it was before that build."""
        self.api.remove_image(reference, force=False, noprune=False)


@dataclass(frozen=True)
class Pushed:
    """An image's manifest in the registry: its config's and its layers' compressed sizes."""

    config: int
    layers: tuple[tuple[str, int], ...]  # (digest, size), base layers first

    @property
    def size(self) -> int:
        """What a pull of the image downloads from scratch: config and layers."""
        return self.config + sum(size for _, size in self.layers)

    def new_layers(self, previous: Pushed) -> int:
        """Bytes of the layers this manifest lists and `previous` does not: what a runner that
        holds the previous image pulls (and what a push after it uploads, but for the config)."""
        known = {digest for digest, _ in previous.layers}
        return sum(size for digest, size in self.layers if digest not in known)


def pushed(reference: str, platform: str = "linux/amd64") -> Pushed:
    """The manifest `reference` (`127.0.0.1:port/repository:tag`) names; of an index, the one
    of `platform`."""
    host, _, rest = reference.partition("/")
    repository, tag = rest.rsplit(":", 1)
    manifest = _manifest(host, repository, tag)
    if "manifests" in manifest:
        architecture = platform.split("/")[1]
        digest = next(
            item["digest"]
            for item in manifest["manifests"]
            if item.get("platform", {}).get("architecture") == architecture
        )
        manifest = _manifest(host, repository, digest)
    layers = tuple((str(layer["digest"]), int(layer["size"])) for layer in manifest["layers"])
    return Pushed(int(manifest["config"]["size"]), layers)


def _manifest(host: str, repository: str, reference: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://{host}/v2/{repository}/manifests/{reference}",
        headers={"Accept": f"{MANIFEST_V2}, {OCI_MANIFEST}, {OCI_INDEX}"},
    )
    with _NO_PROXY.open(request, timeout=30) as response:
        document: dict[str, Any] = json.loads(response.read())
    return document


# Sizes of files under each directory given: all, bytecode (__pycache__), pip and setuptools.
_SIZES = """
import json, os, sys
INSTALLERS = {"pip", "setuptools", "_distutils_hack", "wheel"}
report = {}
for root in sys.argv[1:]:
    sizes = [0, 0, 0]
    for directory, _, files in os.walk(root):
        parts = directory.split(os.sep)
        for name in files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                continue
            size = os.lstat(path).st_size
            sizes[0] += size
            sizes[1] += size if "__pycache__" in parts else 0
            inside = parts[parts.index("site-packages") + 1 :] if "site-packages" in parts else []
            top = (inside[0] if inside else name).split("-")[0].removesuffix(".py")
            sizes[2] += size if "site-packages" in parts and top in INSTALLERS else 0
    report[root] = sizes
print(json.dumps(report))
"""


@dataclass(frozen=True)
class DirectorySize:
    path: str
    total: int
    bytecode: int  # under __pycache__
    installers: int  # pip, setuptools, wheel


def directory_sizes(
    reference: str, paths: tuple[str, ...], env: dict[str, str]
) -> list[DirectorySize]:
    """What the files under `paths` in the image weigh, from a container without network."""
    done = run(
        ["docker", "run", "--rm", "--network", "none", reference, "python3", "-c", _SIZES, *paths],
        cwd=ROOT,
        env=env,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return [DirectorySize(path, *report[path]) for path in paths]


_FIRST_START = """
import subprocess, time
started = time.perf_counter()
subprocess.run(["poetry", "--version"], cwd="/tmp", stdout=subprocess.DEVNULL, check=True)
print(time.perf_counter() - started)
"""


def first_poetry_start(reference: str, env: dict[str, str], runs: int) -> list[float]:
    """Seconds of `poetry --version` as the first command of a new container of the image.

    Timed inside the container, so container creation does not count; what differs between
    images is whether Poetry's modules come with bytecode or are compiled on this first start.
    """
    seconds = []
    for _ in range(runs):
        done = run(
            [
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                reference,
                "python3",
                "-c",
                _FIRST_START,
            ],
            cwd=ROOT,
            env=env,
        )
        seconds.append(float(done.stdout.strip().splitlines()[-1]))
    return seconds
