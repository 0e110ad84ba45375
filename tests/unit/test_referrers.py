"""Where an SBOM is attached: the registry's referrers API when it says it has one (by answering
the artifact's put with `OCI-Subject`), else the referrers tag scheme, whose index lists each
artifact once and keeps what other tools attached.
"""

from __future__ import annotations

import json

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.support.fake_registry import FakeRegistry
from tests.support.fake_registry import digest

from poetry_ci_image.errors import RegistryError
from poetry_ci_image.image.sbom import EMPTY
from poetry_ci_image.image.sbom import SBOM_TYPE
from poetry_ci_image.image.sbom import sbom_artifact
from poetry_ci_image.oci import OCI_INDEX
from poetry_ci_image.oci import OCI_MANIFEST
from poetry_ci_image.registry.referrers import attach


if TYPE_CHECKING:
    from poetry_ci_image.registry.wire import Manifest


IMAGE = b'{"schemaVersion":2,"layers":[]}'
SUBJECT_TAG = digest(IMAGE).replace(":", "-")


@dataclass
class Registry(FakeRegistry):
    """A registry that says 404 as the real client does, with or without a referrers API."""

    referrers_api: bool = False

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        if (repository, reference) not in self.manifests:
            raise RegistryError(f"{repository}:{reference}: manifest unknown (404)")
        return super().get_manifest(repository, reference)

    def put_manifest(
        self, repository: str, reference: str, body: bytes, media_type: str
    ) -> dict[str, str]:
        super().put_manifest(repository, reference, body, media_type)
        subject = json.loads(body).get("subject")
        return {"OCI-Subject": subject["digest"]} if self.referrers_api and subject else {}


def attach_sbom(registry: Registry, sbom: bytes) -> str:
    blobs = {digest(EMPTY): EMPTY, digest(sbom): sbom}
    return attach(registry, "team/ci-image", sbom_artifact(sbom, IMAGE), blobs)


def listed(registry: Registry) -> list[str]:
    body, media_type = registry.manifests[("team/ci-image", SUBJECT_TAG)]
    assert media_type == OCI_INDEX
    return [m["digest"] for m in json.loads(body)["manifests"]]


def test_with_a_referrers_api_no_tag_is_written() -> None:
    registry = Registry(referrers_api=True)
    assert attach_sbom(registry, b'{"sbom":1}') == "referrers API"
    assert ("team/ci-image", SUBJECT_TAG) not in registry.manifests
    assert ("team/ci-image", digest(b'{"sbom":1}')) in registry.blobs


def test_without_one_the_tag_scheme_lists_the_artifact() -> None:
    registry = Registry()
    assert attach_sbom(registry, b'{"sbom":1}') == "tag scheme"
    (artifact,) = listed(registry)
    body, _ = registry.manifests[("team/ci-image", artifact)]
    document = json.loads(body)
    assert document["artifactType"] == SBOM_TYPE
    assert document["subject"]["digest"] == digest(IMAGE)


def test_attached_twice_it_is_listed_once() -> None:
    registry = Registry()
    attach_sbom(registry, b'{"sbom":1}')
    attach_sbom(registry, b'{"sbom":1}')
    assert len(listed(registry)) == 1


def test_what_another_tool_attached_stays_listed() -> None:
    registry = Registry()
    signature = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "0" * 64, "size": 9}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [signature]}
    registry.manifests[("team/ci-image", SUBJECT_TAG)] = (json.dumps(index).encode(), OCI_INDEX)
    attach_sbom(registry, b'{"sbom":2}')
    assert len(listed(registry)) == 2
    assert signature["digest"] in listed(registry)


def test_an_unreadable_index_is_replaced_not_fatal() -> None:
    registry = Registry()
    registry.manifests[("team/ci-image", SUBJECT_TAG)] = (b"[]", OCI_INDEX)
    attach_sbom(registry, b'{"sbom":3}')
    assert len(listed(registry)) == 1
