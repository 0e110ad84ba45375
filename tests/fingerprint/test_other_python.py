"""The fingerprint does not depend on the Python that runs Poetry.

A second Poetry, with the plugin, installed on another CPython minor by .ci/setup (.venv-alt),
fingerprints the same project; the tag must equal the one computed here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pathlib import Path

import pytest

from poetry_ci_image.settings.merge import Options
from tests.support.poetry_cli import clean_env
from tests.support.projects import copy_project
from tests.support.projects import resolve_project


ALT_POETRY = Path(
    os.environ.get("POETRY_CI_IMAGE_ALT_POETRY")
    or Path(__file__).resolve().parents[2] / ".venv-alt" / "bin" / "poetry"
)


def test_same_tag_from_poetry_on_another_python(tmp_path: Path) -> None:
    """Poetry on CPython X.Y (not this one) computes the same tag for the same project."""
    if not ALT_POETRY.exists():
        message = f"{ALT_POETRY} is missing; .ci/setup makes it when another CPython is installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    alt_python = ALT_POETRY.parent / "python"
    alt_version = subprocess.run(
        [str(alt_python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert alt_version != f"{sys.version_info[0]}.{sys.version_info[1]}"

    project = copy_project("base", tmp_path / "webapp")
    # Poetry's own version is an input when it goes into the image; this test is about the
    # Python under Poetry (and runs in .ci/poetry-matrix against other Poetry versions).
    here = resolve_project(project, Options({"poetry": False})).fingerprint
    result = subprocess.run(
        [str(ALT_POETRY), "--no-ansi", "image", "tag", "--json", "--no-poetry"],
        cwd=project,
        env=clean_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    there = json.loads(result.stdout)
    assert (there["tag"], there["fingerprint"]) == (here.tag, here.digest)
