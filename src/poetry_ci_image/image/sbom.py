"""What the image holds, said in a form security teams' tools read: a CycloneDX 1.6 SBOM (JSON)
of every package of each platform's image, made from what the plugin installed, and attached to
the image as an OCI artifact whose subject is the image (registry/referrers.py finds a place
for it the registry can be asked about).

Components, each with its purl (packageurl-python writes them):

- the Python packages of the venv, as the install plan has them: `pkg:pypi/<name>@<version>`
  (with the index's URL when pyproject.toml names one), the sha256 of the file installed;
- Poetry and its dependencies in its own venv, when the image has Poetry;
- every Debian package the image's dpkg database lists: the base's and the system packages'
  (`pkg:deb/<os>/<name>@<version>?arch=...&distro=<os>-<version>`), the latter with the sha256
  of the .deb installed.

The document is a function of those inputs alone: sorted, no time but the epoch, a serial
number derived from the content, so the same image gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from packageurl import PackageURL

from poetry_ci_image import __version__
from poetry_ci_image.image.config import timestamp
from poetry_ci_image.oci import OCI_MANIFEST
from poetry_ci_image.oci import canonical
from poetry_ci_image.oci import digest_of
from poetry_ci_image.plumbing.urls import strip_credentials


if TYPE_CHECKING:
    from collections.abc import Sequence

    from poetry_ci_image.tag.plan import PlannedPackage


SBOM_TYPE = "application/vnd.cyclonedx+json"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
PROPERTY = "io.github.poetry-ci-image"


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    architecture: str
    sha256: str = ""  # of the .deb, for those the plugin installed


@dataclass(frozen=True)
class SbomInputs:
    """Everything one platform's SBOM says."""

    title: str  # the image, for people: "<project> dependencies"
    version: str  # the tag
    fingerprint: str
    platform: str
    venv: str
    python: Sequence[PlannedPackage]
    poetry_home: str | None
    poetry: Sequence[tuple[str, str]]  # (name, version) in Poetry's venv
    os_id: str
    os_version: str
    debs: Sequence[DebPackage]
    epoch: int


def sbom_document(inputs: SbomInputs) -> bytes:
    """The CycloneDX JSON of `inputs`, canonical (sorted keys, no spaces)."""
    components = [_python(package, inputs.venv) for package in inputs.python]
    if inputs.poetry_home:
        components += [
            _component(name, version, PackageURL("pypi", None, name, version), inputs.poetry_home)
            for name, version in inputs.poetry
        ]
    namespace = inputs.os_id or "debian"
    distro = f"{inputs.os_id}-{inputs.os_version}" if inputs.os_id else None
    for deb in inputs.debs:
        qualifiers = {"arch": deb.architecture} if deb.architecture else {}
        if distro:
            qualifiers["distro"] = distro
        purl = PackageURL("deb", namespace, deb.name, deb.version, qualifiers or None)
        component = _component(deb.name, deb.version, purl, "dpkg")
        if deb.sha256:
            component["hashes"] = [{"alg": "SHA-256", "content": deb.sha256}]
        components.append(component)
    components.sort(key=lambda c: (c["purl"], c["properties"][0]["value"]))
    seen: set[str] = set()
    for component in components:  # bom-refs are unique: a second venv's copy gets its place
        ref = component["purl"]
        if ref in seen:
            ref = f"{ref}#{component['properties'][0]['value']}"
        seen.add(ref)
        component["bom-ref"] = ref
    document: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": timestamp(inputs.epoch),
            "tools": {
                "components": [
                    {"type": "application", "name": "poetry-ci-image", "version": __version__}
                ]
            },
            "component": {
                "type": "container",
                "bom-ref": "image",
                "name": inputs.title,
                "version": inputs.version,
                "properties": [
                    {"name": f"{PROPERTY}:fingerprint", "value": inputs.fingerprint},
                    {"name": f"{PROPERTY}:platform", "value": inputs.platform},
                ],
            },
        },
        "components": components,
    }
    content = canonical(document)
    serial = uuid.UUID(bytes=hashlib.sha256(content).digest()[:16], version=5)
    document["serialNumber"] = f"urn:uuid:{serial}"
    return canonical(document)


def sbom_artifact(sbom: bytes, subject: bytes, subject_type: str = OCI_MANIFEST) -> bytes:
    """An OCI 1.1 artifact manifest holding `sbom`, whose subject is the manifest `subject`."""
    return canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SBOM_TYPE,
            "config": {"mediaType": EMPTY_TYPE, "digest": digest_of(EMPTY), "size": len(EMPTY)},
            "layers": [
                {
                    "mediaType": SBOM_TYPE,
                    "digest": digest_of(sbom),
                    "size": len(sbom),
                    "annotations": {"org.opencontainers.image.title": "sbom.cdx.json"},
                }
            ],
            "subject": {
                "mediaType": subject_type,
                "digest": digest_of(subject),
                "size": len(subject),
            },
        }
    )


def _python(package: PlannedPackage, venv: str) -> dict[str, Any]:
    qualifiers = {}
    source = package.source
    if source.type == "legacy" and source.url:  # an index named in pyproject.toml
        qualifiers["repository_url"] = strip_credentials(source.url)
    if source.type == "git" and source.url:
        commit = source.resolved_reference or source.reference or ""
        qualifiers["vcs_url"] = f"git+{strip_credentials(source.url)}@{commit}"
    purl = PackageURL("pypi", None, package.name, package.version, qualifiers or None)
    component = _component(package.name, package.version, purl, venv)
    distribution = package.distribution
    if distribution is not None and distribution.hash.startswith("sha256:"):
        component["hashes"] = [{"alg": "SHA-256", "content": distribution.hash[7:]}]
    return component


def _component(name: str, version: str, purl: PackageURL, location: str) -> dict[str, Any]:
    return {
        "type": "library",
        "name": name,
        "version": version,
        "purl": purl.to_string(),
        "properties": [{"name": f"{PROPERTY}:location", "value": location}],
    }


def read_components(sbom: bytes) -> list[tuple[str, str, str]]:
    """(purl type, name, version) of each component of an SBOM this module wrote."""
    document = json.loads(sbom)
    return sorted(
        (PackageURL.from_string(c["purl"]).type, c["name"], c["version"])
        for c in document["components"]
    )
