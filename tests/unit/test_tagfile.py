"""The tag-file: read back what was written, rewrite only what changed, never half a file."""

from __future__ import annotations

import os

from typing import TYPE_CHECKING

import pytest

from poetry_ci_image.errors import TagFileError
from poetry_ci_image.tag import tagfile


if TYPE_CHECKING:
    from pathlib import Path


REFERENCE = "registry.example/team/app/ci-image:py3.11-amd64-0123456789abcdef"
NEWER = "registry.example/team/app/ci-image:py3.11-amd64-fedcba9876543210"


@pytest.mark.parametrize("name", ["ci-image.env", ".env", "ci-image.yml", "ci/image.yaml"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    """What is written is what is read."""
    path = tmp_path / name
    assert tagfile.read_reference(path, "CI_IMAGE") is None
    assert tagfile.write_reference(path, "CI_IMAGE", REFERENCE) is True
    assert tagfile.read_reference(path, "CI_IMAGE") == REFERENCE


def test_yaml_is_a_gitlab_variables_file(tmp_path: Path) -> None:
    """The .yml form is a complete `include:`-able GitLab CI file."""
    path = tmp_path / "ci-image.yml"
    tagfile.write_reference(path, "CI_IMAGE", REFERENCE)
    assert path.read_text() == (
        "# Written by `poetry image tag` (poetry-ci-image). Do not edit: run `poetry image tag`.\n"
        "variables:\n"
        f'  CI_IMAGE: "{REFERENCE}"\n'
    )


def test_env_keeps_other_lines(tmp_path: Path) -> None:
    """In a shared .env file only the variable's line changes."""
    path = tmp_path / "build.env"
    path.write_text(f"# settings\nOTHER=1\nCI_IMAGE={REFERENCE}\nLAST=2\n")
    tagfile.write_reference(path, "CI_IMAGE", NEWER)
    assert path.read_text() == f"# settings\nOTHER=1\nCI_IMAGE={NEWER}\nLAST=2\n"


def test_unchanged_reference_leaves_the_file_alone(tmp_path: Path) -> None:
    """No write (so no new mtime, no editor reload) when the reference did not move."""
    path = tmp_path / "ci-image.env"
    tagfile.write_reference(path, "CI_IMAGE", REFERENCE)
    os.utime(path, (1_000_000, 1_000_000))
    assert tagfile.write_reference(path, "CI_IMAGE", REFERENCE) is False
    assert path.stat().st_mtime == 1_000_000


def test_failed_write_leaves_the_old_file_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted between writing and renaming: the old content stays, the temporary goes."""
    path = tmp_path / "ci-image.env"
    tagfile.write_reference(path, "CI_IMAGE", REFERENCE)

    def interrupted(source: str, destination: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tagfile.write_reference(path, "CI_IMAGE", NEWER)
    assert path.read_text() == f"CI_IMAGE={REFERENCE}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ci-image.env"]


@pytest.mark.parametrize(
    ("content", "reference"),
    [
        pytest.param(f'CI_IMAGE="{REFERENCE}"\n', REFERENCE, id="double quotes"),
        pytest.param(f"export CI_IMAGE='{REFERENCE}'\n", REFERENCE, id="export and single quotes"),
        pytest.param("OTHER=1\n", None, id="variable missing"),
    ],
)
def test_reads_hand_written_env_files(tmp_path: Path, content: str, reference: str | None) -> None:
    """Quoting and `export` as people write dotenv files."""
    path = tmp_path / "x.env"
    path.write_text(content)
    assert tagfile.read_reference(path, "CI_IMAGE") == reference


def test_unknown_format(tmp_path: Path) -> None:
    """A tag-file name the plugin cannot write says which names work."""
    with pytest.raises(TagFileError) as raised:
        tagfile.write_reference(tmp_path / "image.txt", "CI_IMAGE", REFERENCE)
    assert raised.value.message == "tag-file image.txt has an unknown format."
