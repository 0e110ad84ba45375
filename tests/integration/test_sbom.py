"""The SBOM a push attaches to each platform's image, read as a security team's tools read it.

The loopback registry (distribution 2.8) has no referrers API, so the SBOM is found through the
OCI referrers tag scheme: an index under `sha256-<hex of the image's manifest digest>`. What it
lists is checked against the image itself, read independently: the Python distributions are the
`*.dist-info` directories in the pushed layers, the Debian packages are the base's dpkg status.
No engine is used: the push runs without one, the checks read the registry.
"""

from __future__ import annotations

import email.parser
import gzip
import hashlib
import io
import json
import re
import tarfile

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.test_build import http_get
from tests.integration.test_push import engine_free
from tests.integration.test_push import make_project
from tests.support.base_images import rootfs_tarball
from tests.support.poetry_cli import run_poetry


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.slow]

CYCLONEDX = "application/vnd.cyclonedx+json"
DIST_INFO = re.compile(
    r"^/?opt/(venv|poetry)/lib/python3\.\d+/site-packages/[^/]+\.dist-info/METADATA$"
)


def push(project: Path, env: dict[str, str], where: Path) -> str:
    """`poetry image push` with no engine and a cache of its own; the reference pushed."""
    env = {**engine_free(env, where), "POETRY_CACHE_DIR": str(where / "cache")}
    result = run_poetry(project, "-v", "image", "push", env=env)
    assert result.returncode == 0, result.stderr
    assert "SBOM of linux/amd64: attached (tag scheme)" in result.stderr
    return result.stdout.strip()


class Image:
    """One pushed image, read from the registry over HTTP."""

    def __init__(self, registry: Registry, reference: str) -> None:
        self.base = registry.url
        self.repository, self.tag = reference.removeprefix(f"{registry.host}/").rsplit(":", 1)
        self.manifest_bytes = self.get("manifests", self.tag)
        self.manifest = json.loads(self.manifest_bytes)
        self.digest = "sha256:" + hashlib.sha256(self.manifest_bytes).hexdigest()

    def get(self, kind: str, reference: str) -> bytes:
        return http_get(f"{self.base}/v2/{self.repository}/{kind}/{reference}")

    def referrers(self) -> dict[str, Any]:
        """The tag scheme's index of what refers to this image."""
        tag = self.digest.replace(":", "-")
        index: dict[str, Any] = json.loads(self.get("manifests", tag))
        return index

    def sbom(self) -> tuple[str, bytes]:
        """The SBOM artifact's manifest digest and the SBOM's bytes."""
        (descriptor,) = [
            m for m in self.referrers()["manifests"] if m.get("artifactType") == CYCLONEDX
        ]
        artifact = self.get("manifests", descriptor["digest"])
        assert "sha256:" + hashlib.sha256(artifact).hexdigest() == descriptor["digest"]
        document = json.loads(artifact)
        assert document["subject"]["digest"] == self.digest
        (layer,) = document["layers"]
        assert layer["mediaType"] == CYCLONEDX
        return descriptor["digest"], self.get("blobs", layer["digest"])

    def distributions(self) -> dict[str, set[tuple[str, str]]]:
        """(name, version) of each `*.dist-info` in the plugin's layers, by venv."""
        found: dict[str, set[tuple[str, str]]] = {"venv": set(), "poetry": set()}
        for layer in self.manifest["layers"]:
            data = self.get("blobs", layer["digest"])
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
                for member in tar.getmembers():
                    match = DIST_INFO.match(member.name)
                    if not match or not member.isfile():
                        continue
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    metadata = email.parser.BytesParser().parse(extracted)
                    name = re.sub(r"[-_.]+", "-", str(metadata["Name"])).lower()
                    found[match.group(1)].add((name, str(metadata["Version"])))
        return found


def base_dpkg_packages() -> set[tuple[str, str]]:
    """(name, version) of each package the amd64 base's dpkg status says is installed."""
    with tarfile.open(rootfs_tarball("linux/amd64")) as tar:
        member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "var/lib/dpkg/status")
        extracted = tar.extractfile(member)
        assert extracted is not None
        status = extracted.read().decode()
    packages = set()
    for paragraph in status.strip().split("\n\n"):
        fields = email.parser.Parser().parsestr(paragraph)
        if str(fields["Status"]).endswith(" installed"):
            packages.add((str(fields["Package"]), str(fields["Version"])))
    return packages


@pytest.fixture(scope="module")
def pushed(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    registry: Registry,
    module_env: dict[str, str],
) -> tuple[Path, Image]:
    where = tmp_path_factory.mktemp("sbom")
    project = make_project(where / "shop", index, registry, module_env, name="sbom")
    return project, Image(registry, push(project, module_env, where / "first"))


def components(sbom: bytes) -> list[dict[str, Any]]:
    document = json.loads(sbom)
    assert document["bomFormat"] == "CycloneDX"
    assert document["specVersion"] == "1.6"
    found: list[dict[str, Any]] = document["components"]
    return found


def located(sbom: bytes, location: str, purl_type: str) -> set[tuple[str, str]]:
    return {
        (c["name"], c["version"])
        for c in components(sbom)
        if c["purl"].startswith(f"pkg:{purl_type}/")
        and {"name": "io.github.poetry-ci-image:location", "value": location} in c["properties"]
    }


def test_the_sbom_is_found_from_the_image(pushed: tuple[Path, Image]) -> None:
    """Through the referrers tag scheme: one CycloneDX artifact whose subject is the image,
    naming the image's tag and platform."""
    _, image = pushed
    _, sbom = image.sbom()
    metadata = json.loads(sbom)["metadata"]
    assert metadata["component"]["type"] == "container"
    assert metadata["component"]["version"] == image.tag
    properties = {p["name"]: p["value"] for p in metadata["component"]["properties"]}
    assert properties["io.github.poetry-ci-image:platform"] == "linux/amd64"
    assert image.tag.endswith(properties["io.github.poetry-ci-image:fingerprint"][:16])


def test_the_sbom_lists_every_python_distribution_in_the_image(
    pushed: tuple[Path, Image],
) -> None:
    """The venv's distributions and Poetry's, as the layers' dist-info directories say, with
    no distribution missing or made up."""
    _, image = pushed
    _, sbom = image.sbom()
    in_layers = image.distributions()

    assert located(sbom, "/opt/venv", "pypi") == in_layers["venv"]
    names = {name for name, _ in in_layers["venv"]}
    assert names == {"alpha", "beta", "delta", "native", "devtool"}  # the dev group too
    assert located(sbom, "/opt/poetry", "pypi") == in_layers["poetry"]
    assert any(name == "poetry" for name, _ in in_layers["poetry"])


def test_the_sbom_lists_the_bases_debian_packages(pushed: tuple[Path, Image]) -> None:
    _, image = pushed
    _, sbom = image.sbom()
    debs = located(sbom, "dpkg", "deb")

    assert debs == base_dpkg_packages()
    purls = [c["purl"] for c in components(sbom) if c["name"] == "libc6"]
    version = dict(debs)["libc6"].replace("+", "%2B")  # a purl's version is percent-encoded
    assert purls == [f"pkg:deb/debian/libc6@{version}?arch=amd64&distro=debian-12"]


def test_the_python_components_carry_the_installed_files_hash(
    pushed: tuple[Path, Image], index: PackageIndex
) -> None:
    """The sha256 of the wheel or sdist installed, as the lock file has it."""
    project, image = pushed
    _, sbom = image.sbom()
    lock = (project / "poetry.lock").read_text()
    for component in components(sbom):
        if component["name"] in {"alpha", "native"}:
            (sha,) = [h["content"] for h in component["hashes"] if h["alg"] == "SHA-256"]
            assert f"sha256:{sha}" in lock


def test_the_same_image_pushed_again_gives_the_same_sbom(
    pushed: tuple[Path, Image],
    tmp_path: Path,
    registry: Registry,
    tool_env: dict[str, str],
) -> None:
    """Another runner with another cache pushes the same lock to another repository (so it
    builds and attaches anew): the same image, the same SBOM bytes, attached once."""
    project, image = pushed
    artifact, sbom = image.sbom()
    elsewhere = {**tool_env, "POETRY_CI_IMAGE_REPOSITORY": f"{registry.host}/sbom-again/ci-image"}
    again = Image(registry, push(project, elsewhere, tmp_path))

    assert again.repository != image.repository
    assert again.digest == image.digest
    assert again.sbom() == (artifact, sbom)
    assert len(again.referrers()["manifests"]) == 1
