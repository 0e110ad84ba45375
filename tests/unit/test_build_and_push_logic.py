"""What build and push decide, with a fake engine and registry behind their seams.

The real engine and registry are in tests/integration; these pin the decisions: when nothing is
built, when nothing is pushed, and that the no-op push never reaches for an engine.
"""

from __future__ import annotations

import threading

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import pytest

from tests.support.projects import copy_project
from tests.support.projects import resolve_project

from poetry_ci_image.build import build_image
from poetry_ci_image.errors import RegistryError
from poetry_ci_image.errors import TagFileError
from poetry_ci_image.labels import FINGERPRINT_LABEL
from poetry_ci_image.poetry.project import Project
from poetry_ci_image.push import push_image
from poetry_ci_image.settings import Options


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Mapping
    from pathlib import Path

    from poetry.poetry import Poetry

    from poetry_ci_image.credentials import Credentials
    from poetry_ci_image.engine import Engine
    from poetry_ci_image.registry.client import Manifest
    from poetry_ci_image.registry.registries import Registry
    from poetry_ci_image.resolve import Resolved


REPOSITORY = "registry.example/team/webapp/ci-image"


@dataclass
class FakeEngine:
    """An engine that holds images by reference and by label, and records what it is asked."""

    images: dict[str, str] = field(default_factory=dict)  # reference -> image id
    labelled: dict[str, str] = field(default_factory=dict)  # fingerprint -> image id
    calls: list[str] = field(default_factory=list)

    def has_image(self, reference: str) -> bool:
        self.calls.append(f"has_image {reference}")
        return reference in self.images

    def find_labelled(self, label: str, value: str) -> str | None:
        assert label == FINGERPRINT_LABEL
        self.calls.append("find_labelled")
        return self.labelled.get(value)

    def build(
        self,
        context: Path,
        *,
        reference: str,
        build_args: Mapping[str, str],
        network_mode: str | None,
        on_line: Callable[[str], None],
    ) -> str:
        raise AssertionError("nothing may be built here")

    def tag(self, image: str, reference: str) -> None:
        self.calls.append(f"tag {image} {reference}")
        self.images[reference] = image

    def push(
        self, reference: str, credentials: Credentials | None, on_status: Callable[[str], None]
    ) -> None:
        self.calls.append(f"push {reference}")


@dataclass
class FakeRegistry:
    """A registry that has the manifests of `references` ("host/path:tag")."""

    references: set[str] = field(default_factory=set)
    name: str = "registry.example"
    cancelled: threading.Event = field(default_factory=threading.Event)

    def open(self, registry: str) -> Registry:
        assert registry == self.name
        return self

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        present = f"{self.name}/{repository}:{reference}" in self.references
        return "sha256:" + "0" * 64 if present else None

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        raise AssertionError("not asked here")

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> None:
        raise AssertionError("not asked here")

    def has_blob(self, repository: str, digest: str) -> bool:
        raise AssertionError("not asked here")

    def get_blob(self, repository: str, digest: str) -> bytes:
        raise AssertionError("not asked here")

    def stream_blob(self, repository: str, digest: str) -> Iterator[bytes]:
        raise AssertionError("not asked here")

    def mount_blob(self, repository: str, digest: str, source: str) -> bool:
        raise AssertionError("not asked here")

    def upload_blob(
        self, repository: str, digest: str, size: int, chunks: Callable[[], Iterable[bytes]]
    ) -> None:
        raise AssertionError("not asked here")


@dataclass
class Lines:
    status_lines: list[str] = field(default_factory=list)

    def status(self, message: str) -> None:
        self.status_lines.append(message)

    def detail(self, message: str) -> None:
        pass


@pytest.fixture
def resolved(tmp_path: Path) -> Resolved:
    project = copy_project("base", tmp_path / "webapp")
    return resolve_project(project, Options({"repository": REPOSITORY, "poetry": False}))


def no_engine() -> Engine:
    raise AssertionError("the no-op push must not reach for the Docker engine")


def unloaded(resolved: Resolved) -> Project:
    """The project, as a command hands it over: loading Poetry here is a failure."""

    def load() -> Poetry:
        raise AssertionError("nothing here may load the project into Poetry")

    return Project(resolved.settings.project_dir, load)


def test_build_does_nothing_when_the_engine_has_the_image(resolved: Resolved) -> None:
    """The reference is there: say so, tag the extras, build nothing."""
    reference = str(resolved.reference)
    engine = FakeEngine(images={reference: "sha256:aaa"})
    lines = Lines()
    outcome = build_image(unloaded(resolved), resolved, engine, lines, {}, extra_tags=["latest"])
    assert outcome.built is False
    assert lines.status_lines == [f"{reference} is already in the Docker engine; nothing to build."]
    assert engine.calls == [f"has_image {reference}", f"tag {reference} {REPOSITORY}:latest"]


def test_build_reuses_an_image_of_the_same_fingerprint(resolved: Resolved) -> None:
    """Another name, same fingerprint label (e.g. another registry): tag it, build nothing."""
    engine = FakeEngine(labelled={resolved.fingerprint.digest: "sha256:bbbbbbbbbbbbbbbbbbbbbbbb"})
    outcome = build_image(unloaded(resolved), resolved, engine, Lines(), {})
    assert outcome.built is False
    assert engine.images == {str(resolved.reference): "sha256:bbbbbbbbbbbbbbbbbbbbbbbb"}


def test_push_is_one_registry_question_when_the_tag_exists(resolved: Resolved) -> None:
    """The registry has it: no engine, no build, no push."""
    registry = FakeRegistry({str(resolved.reference)})
    lines = Lines()
    outcome = push_image(unloaded(resolved), resolved, no_engine, registry, lines, {})
    assert (outcome.pushed, outcome.built) == (False, False)
    assert lines.status_lines == [
        f"{resolved.reference} is already in the registry; nothing to build or push."
    ]


def test_push_uses_the_engines_image_and_confirms_the_manifest(resolved: Resolved) -> None:
    """Missing from the registry, present in the engine: push it, then ask the registry again."""
    reference = str(resolved.reference)
    registry = FakeRegistry()

    class Confirming(FakeEngine):
        def push(
            self, reference: str, credentials: Credentials | None, on_status: Callable[[str], None]
        ) -> None:
            super().push(reference, credentials, on_status)
            registry.references.add(reference)

    engine = Confirming(images={reference: "sha256:ccc"})
    outcome = push_image(unloaded(resolved), resolved, lambda: engine, registry, Lines(), {})
    assert (outcome.pushed, outcome.built) == (True, False)
    assert engine.calls[-1] == f"push {reference}"


def test_push_that_the_registry_does_not_list_afterwards_fails(resolved: Resolved) -> None:
    """A push the registry swallowed without listing the tag is an error, not a success."""
    engine = FakeEngine(images={str(resolved.reference): "sha256:ddd"})
    with pytest.raises(RegistryError) as raised:
        push_image(unloaded(resolved), resolved, lambda: engine, FakeRegistry(), Lines(), {})
    assert raised.value.message == (
        f"The registry registry.example accepted the push but does not list {resolved.reference}."
    )


def test_push_refuses_a_tag_file_that_records_another_image(tmp_path: Path) -> None:
    """Before any registry or engine call, the tag-file must record the lock's image."""
    project = copy_project("base", tmp_path / "webapp")
    (project / "ci-image.env").write_text(f"CI_IMAGE={REPOSITORY}:old\n")
    resolved = resolve_project(
        project, Options({"repository": REPOSITORY, "poetry": False, "tag-file": "ci-image.env"})
    )
    with pytest.raises(TagFileError) as raised:
        push_image(unloaded(resolved), resolved, no_engine, FakeRegistry(), Lines(), {})
    assert raised.value.hint == "Run `poetry image tag` and commit ci-image.env. Then push again."
