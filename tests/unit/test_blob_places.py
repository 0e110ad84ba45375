"""Where this runner pushed each blob before: a hint kept in the cache, read once per run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poetry_ci_image.registry.blob_places import BlobPlaces


if TYPE_CHECKING:
    from pathlib import Path


def test_the_repositories_a_blob_went_to_most_recent_first(tmp_path: Path) -> None:
    places = BlobPlaces(tmp_path)
    places.remember("registry.example", "one/ci-image", ["sha256:a", "sha256:b"])
    places.remember("registry.example", "two/ci-image", ["sha256:a"])
    again = BlobPlaces(tmp_path)  # the next run, on the same runner
    assert again.known("registry.example", "sha256:a") == ["two/ci-image", "one/ci-image"]
    assert again.known("registry.example", "sha256:b") == ["one/ci-image"]
    assert again.known("other.example", "sha256:a") == []


def test_a_push_reads_the_file_once_not_once_per_blob(tmp_path: Path) -> None:
    BlobPlaces(tmp_path).remember("registry.example", "one/ci-image", ["sha256:a", "sha256:b"])
    places = BlobPlaces(tmp_path)
    assert places.known("registry.example", "sha256:a") == ["one/ci-image"]
    for kept in tmp_path.iterdir():
        kept.write_text("{}")  # what another job writes now is not read again
    assert places.known("registry.example", "sha256:b") == ["one/ci-image"]


def test_what_another_job_wrote_meanwhile_is_kept_when_remembering(tmp_path: Path) -> None:
    places = BlobPlaces(tmp_path)
    assert places.known("registry.example", "sha256:a") == []
    BlobPlaces(tmp_path).remember("registry.example", "other/ci-image", ["sha256:a"])
    places.remember("registry.example", "mine/ci-image", ["sha256:b"])
    assert BlobPlaces(tmp_path).known("registry.example", "sha256:a") == ["other/ci-image"]
    assert places.known("registry.example", "sha256:b") == ["mine/ci-image"]


def test_no_directory_keeps_nothing(tmp_path: Path) -> None:
    places = BlobPlaces(None)
    places.remember("registry.example", "one/ci-image", ["sha256:a"])
    assert places.known("registry.example", "sha256:a") == []
