"""What build and push decide, with a fake engine and registry behind their seams.

The real engine and registry are in tests/integration; these pin the decisions: when nothing is
built, when nothing is pushed, and that the no-op push is one registry question that needs no
engine and no Poetry.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import pytest

from tests.support.fake_registry import OCI_MANIFEST
from tests.support.fake_registry import FakeRegistry
from tests.support.fake_registry import digest
from tests.support.projects import copy_project
from tests.support.projects import resolve_project

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.errors import TagFileError
from poetry_ci_image.jobs.build_job import build_image
from poetry_ci_image.jobs.image_job import ImageJob
from poetry_ci_image.jobs.push_job import push_image
from poetry_ci_image.poetry.project import Project
from poetry_ci_image.run import Run
from poetry_ci_image.settings.merge import Options
from poetry_ci_image.tag.labels import FINGERPRINT_LABEL


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator
    from collections.abc import Mapping
    from pathlib import Path

    from poetry.poetry import Poetry

    from poetry_ci_image.engine.docker import Engine
    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.registry.credentials import Credentials
    from poetry_ci_image.tag.resolve import Resolved


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
        self, context: Path, reference: str, build_args: Mapping[str, str], reporter: Reporter
    ) -> str:
        raise AssertionError("nothing may be built here")

    def tag(self, image: str, reference: str) -> None:
        self.calls.append(f"tag {image} {reference}")
        self.images[reference] = image

    def layers_of(self, image: str) -> frozenset[str]:
        raise AssertionError("nothing may be loaded here")

    def load(self, archive: Iterator[bytes], reporter: Reporter) -> None:
        raise AssertionError("nothing may be loaded here")

    def push(self, reference: str, credentials: Credentials | None, reporter: Reporter) -> None:
        self.calls.append(f"push {reference}")


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
    raise AssertionError("this path must not reach for the Docker engine")


def unloaded(resolved: Resolved) -> Project:
    """The project, as a command hands it over: loading Poetry here is a failure."""

    def load() -> Poetry:
        raise AssertionError("nothing here may load the project into Poetry")

    return Project(resolved.settings.project_dir, load)


def job(
    resolved: Resolved, engine: Callable[[], Engine] = no_engine, extra_tags: tuple[str, ...] = ()
) -> ImageJob:
    """The work of a command, with Poetry and the engine behind fakes."""
    return ImageJob(
        project=unloaded(resolved), resolved=resolved, engine=engine, extra_tags=extra_tags
    )


def run(lines: Lines, registry: FakeRegistry | None = None) -> Run:
    """The run's context: lines reported to `lines`, the fake registry, no cache."""
    return Run(lines, registry or FakeRegistry(), None)


def test_build_does_nothing_when_the_engine_has_the_image(resolved: Resolved) -> None:
    """The reference is there: say so, tag the extras, build nothing."""
    reference = str(resolved.reference)
    engine = FakeEngine(images={reference: "sha256:aaa"})
    lines = Lines()
    outcome = build_image(job(resolved, lambda: engine, extra_tags=("latest",)), run(lines))
    assert outcome.built is False
    assert lines.status_lines == [f"{reference} is already in the Docker engine; nothing to build."]
    assert engine.calls == [f"has_image {reference}", f"tag {reference} {REPOSITORY}:latest"]


def test_build_reuses_an_image_of_the_same_fingerprint(resolved: Resolved) -> None:
    """Another name, same fingerprint label (e.g. another registry): tag it, build nothing."""
    engine = FakeEngine(labelled={resolved.fingerprint.digest: "sha256:bbbbbbbbbbbbbbbbbbbbbbbb"})
    outcome = build_image(job(resolved, lambda: engine), run(Lines()))
    assert outcome.built is False
    assert engine.images == {str(resolved.reference): "sha256:bbbbbbbbbbbbbbbbbbbbbbbb"}


def test_an_engine_build_of_several_platforms_is_refused(tmp_path: Path) -> None:
    """An engine holds one platform per image: building two for it says what to do instead."""
    project = copy_project("base", tmp_path / "webapp")
    options = Options(
        {"repository": REPOSITORY, "poetry": False, "platform": ("linux/amd64", "linux/arm64")}
    )
    resolved = resolve_project(project, options)
    with pytest.raises(ConfigError) as raised:
        build_image(job(resolved), run(Lines()))
    assert raised.value.message == (
        "A Docker engine holds one platform per image, and several are configured "
        "(linux/amd64, linux/arm64)."
    )


def test_push_is_one_registry_question_when_the_tag_exists(resolved: Resolved) -> None:
    """The registry has it: one manifest HEAD; no engine, no Poetry, no build, no push."""
    reference = resolved.reference
    registry = FakeRegistry()
    registry.manifests[(reference.path, str(reference.tag))] = (b"{}", "application/json")
    lines = Lines()
    outcome = push_image(job(resolved), run(lines, registry))
    assert outcome.pushed is False
    assert registry.calls == [f"HEAD manifest {reference.path}:{reference.tag}"]
    assert lines.status_lines == [
        f"{reference} is already in the registry; nothing to build or push."
    ]


def test_push_moves_an_alias_to_the_image_the_registry_has(resolved: Resolved) -> None:
    """`--tag main` on a no-op push: the alias is put where it pointed elsewhere, left alone
    where it points at the image already (a default branch's moving alias)."""
    reference = resolved.reference
    registry = FakeRegistry()
    body = b'{"schemaVersion":2}'
    registry.manifests[(reference.path, str(reference.tag))] = (body, OCI_MANIFEST)
    registry.manifests[(reference.path, digest(body))] = (body, OCI_MANIFEST)
    registry.manifests[(reference.path, "stale")] = (b'{"old":1}', OCI_MANIFEST)
    registry.manifests[(reference.path, "same")] = (body, OCI_MANIFEST)
    lines = Lines()
    outcome = push_image(job(resolved, extra_tags=("stale", "same", "new")), run(lines, registry))
    assert (outcome.pushed, outcome.digest) == (False, digest(body))
    assert registry.manifests[(reference.path, "stale")] == (body, OCI_MANIFEST)
    assert registry.manifests[(reference.path, "new")] == (body, OCI_MANIFEST)
    puts = [call for call in registry.calls if call.startswith("PUT")]
    assert puts == [
        f"PUT manifest {reference.path}:stale",
        f"PUT manifest {reference.path}:new",
    ]
    assert lines.status_lines[1:] == [
        f"Tagged {reference.with_tag('stale')} as {digest(body)[:19]}",
        f"Tagged {reference.with_tag('new')} as {digest(body)[:19]}",
    ]


def test_push_refuses_a_tag_file_that_records_another_image(tmp_path: Path) -> None:
    """Before any registry or engine call, the tag-file must record the lock's image."""
    project = copy_project("base", tmp_path / "webapp")
    (project / "ci-image.env").write_text(f"CI_IMAGE={REPOSITORY}:old\n")
    resolved = resolve_project(
        project, Options({"repository": REPOSITORY, "poetry": False, "tag-file": "ci-image.env"})
    )
    registry = FakeRegistry()
    with pytest.raises(TagFileError) as raised:
        push_image(job(resolved), run(Lines(), registry))
    assert raised.value.hint == "Run `poetry image tag` and commit ci-image.env. Then push again."
    assert registry.calls == []
