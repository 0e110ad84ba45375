"""The README's GitHub Actions recipe: checked by actionlint, and its deps step's command run."""

from __future__ import annotations

import shutil
import subprocess

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import lock
from tests.integration.conftest import write_project
from tests.recipes.conftest import BIN
from tests.recipes.conftest import GITHUB_WORKFLOW
from tests.recipes.conftest import load_yaml


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex


def run_actionlint(actionlint: str, workflow: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint, "-no-color", str(workflow)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_workflow_passes_actionlint(actionlint: str) -> None:
    """actionlint finds nothing: syntax, expressions, job outputs, action versions, permissions."""
    result = run_actionlint(actionlint, GITHUB_WORKFLOW)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_actionlint_would_catch_a_test_job_reading_an_output_deps_does_not_set(
    actionlint: str, tmp_path: Path
) -> None:
    """The check is real: a test job's image from a misspelt deps output is an error."""
    broken = tmp_path / "ci.yml"
    text = GITHUB_WORKFLOW.read_text()
    assert "${{ needs.deps.outputs.image }}" in text
    broken.write_text(text.replace("needs.deps.outputs.image", "needs.deps.outputs.img"))
    result = run_actionlint(actionlint, broken)
    assert result.returncode == 1
    assert 'property "img" is not defined' in result.stdout


def deps_step(workflow: dict[str, Any], step_id: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = workflow["jobs"]["deps"]["steps"]
    return next(step for step in steps if step.get("id") == step_id)


def test_the_test_jobs_run_in_the_image_the_deps_step_writes() -> None:
    """The test job's container is deps' `image` output, which is the `image` step's output."""
    workflow = load_yaml(GITHUB_WORKFLOW)
    assert workflow["jobs"]["deps"]["outputs"] == {"image": "${{ steps.image.outputs.image }}"}
    assert workflow["jobs"]["test"]["needs"] == "deps"
    assert workflow["jobs"]["test"]["container"]["image"] == "${{ needs.deps.outputs.image }}"
    assert deps_step(workflow, "image")["run"] == (
        'poetry image tag --github-output --platform "$PLATFORMS"'
    )


@pytest.mark.slow
def test_the_deps_step_hands_on_the_default_ghcr_reference(
    tmp_path: Path, index: PackageIndex, host_env: dict[str, str]
) -> None:
    """Nothing configured: the step writes image=ghcr.io/<owner>/<repo>/ci-image:<tag>, lower."""
    project = write_project(tmp_path / "shop", index_url=index.url, dependencies='"alpha (==1.0)"')
    lock(project, host_env)
    output = tmp_path / "github-output"
    output.write_text("earlier=step\n")
    workflow = load_yaml(GITHUB_WORKFLOW)
    env = {
        **host_env,
        **workflow["env"],
        "PATH": f"{BIN}:{host_env['PATH']}",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "Example-Org/Shop",
        "GITHUB_OUTPUT": str(output),
    }
    command = deps_step(workflow, "image")["run"]
    result = subprocess.run(
        [shutil.which("sh") or "/bin/sh", "-e", "-c", command],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    reference = result.stdout.strip()
    repository, tag = reference.split(":")
    assert repository == "ghcr.io/example-org/shop/ci-image"
    assert tag.startswith("py3.11-amd64-arm64-")
    assert output.read_text() == f"earlier=step\nimage={reference}\ntag={tag}\n"
