"""The benchmark's own Docker engine and registry.

The engine is the one `.ci/engine` starts, with its own state directory, so that emptying its
caches never touches the engine the test suite uses. "Cold" means: no image but the base image,
no stopped container, no build cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import urllib.request

from dataclasses import dataclass
from typing import Any

from benchmarks.timing import run
from benchmarks.workspace import ROOT


BENCH_STATE = "/var/tmp/poetry-ci-image-bench"
BASE_IMAGE = "python:3.11-slim-bookworm"  # made by .ci/engine from Debian's packages
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def start_engine(state: str = BENCH_STATE) -> str:
    """Start (or reuse) the benchmark's engine with its base image; return its DOCKER_HOST."""
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env["CI_IMAGE_STATE"] = state
    done = run([str(ROOT / ".ci" / "engine")], cwd=ROOT, env=env, timeout=900)
    return done.stdout.strip().splitlines()[-1]


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

    def make_cold(self, keep: tuple[str, ...] = (BASE_IMAGE,)) -> None:
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


def registry_version() -> str:
    done = subprocess.run(
        ["docker-registry", "--version"], capture_output=True, text=True, check=False
    )
    words = (done.stdout or done.stderr).split()
    return next((w for w in words if w[:1].isdigit() or w.startswith("v")), "?")


def compressed_size(registry_host: str, repository: str, tag: str) -> int:
    """What a pull downloads: the manifest's config and layers, as stored in the registry."""
    request = urllib.request.Request(
        f"http://{registry_host}/v2/{repository}/manifests/{tag}",
        headers={"Accept": f"{MANIFEST_V2}, {OCI_MANIFEST}"},
    )
    with _NO_PROXY.open(request, timeout=30) as response:
        manifest = json.loads(response.read())
    return int(manifest["config"]["size"]) + sum(int(layer["size"]) for layer in manifest["layers"])


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
