"""The README's GitHub Actions recipe: checked by actionlint, and its deps step's command run."""

from __future__ import annotations

import shutil
import subprocess
import sys

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import lock
from tests.integration.conftest import write_project
from tests.recipes.conftest import GITHUB_WORKFLOW
from tests.recipes.conftest import load_yaml
from tests.support.poetry_cli import run_poetry
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.proxy import RegistryProxy
    from tests.support.registry import Registry


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


def test_the_test_jobs_run_in_the_image_the_one_deps_command_pushes() -> None:
    """The test job's container is deps' `image` output, which the push step writes; Poetry
    starts once in the deps job."""
    workflow = load_yaml(GITHUB_WORKFLOW)
    assert workflow["jobs"]["deps"]["outputs"] == {"image": "${{ steps.push.outputs.image }}"}
    assert workflow["jobs"]["test"]["needs"] == "deps"
    assert workflow["jobs"]["test"]["container"]["image"] == "${{ needs.deps.outputs.image }}"
    command = deps_step(workflow, "push")["run"]
    assert command.startswith("uvx ")
    assert command.endswith(' poetry image push --github-output --platform "$PLATFORMS"')
    runs = [step["run"] for step in workflow["jobs"]["deps"]["steps"] if "run" in step]
    assert runs == [command]


@pytest.mark.docker
@pytest.mark.slow
def test_the_deps_step_pushes_and_hands_on_the_reference(
    tmp_path: Path,
    index: PackageIndex,
    registry: Registry,
    job_index: PackageIndex,
    uv_binaries: Path,
    docker_hub: RegistryProxy,
    host_env: dict[str, str],
) -> None:
    """The step, run as written (uvx from the loopback index of the Poetry and plugin wheels),
    pushes both platforms and appends image= and tag= to $GITHUB_OUTPUT; the reference
    defaults to ghcr.io/<owner>/<repo>/ci-image, lower-cased."""
    project = write_project(
        tmp_path / "shop",
        index_url=index.url,
        dependencies='"alpha (==1.0)"',
        table=f'base = "{BASE_IMAGE}"',  # what the stand-in Docker Hub has
    )
    lock(project, host_env)
    output = tmp_path / "github-output"
    output.write_text("earlier=step\n")
    workflow = load_yaml(GITHUB_WORKFLOW)
    github = {
        **host_env,
        **workflow["env"],
        **workflow["jobs"]["deps"]["env"],
        "PATH": f"{uv_binaries}:{host_env['PATH']}",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "Example-Org/Shop",
        "GITHUB_OUTPUT": str(output),
    }
    # What stands in for GitHub here: ghcr.io, Docker Hub and the index are loopback services.
    env = {
        **github,
        "POETRY_CI_IMAGE_REPOSITORY": f"{registry.host}/example-org/shop/ci-image",
        "POETRY_CI_IMAGE_DOCKER_HUB_MIRROR": docker_hub.host,
        "UV_DEFAULT_INDEX": job_index.url,
        "PIP_INDEX_URL": job_index.url,
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_PYTHON": sys.executable,
    }
    command = deps_step(workflow, "push")["run"]
    result = subprocess.run(
        [shutil.which("sh") or "/bin/sh", "-e", "-c", command],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    reference = result.stdout.strip().splitlines()[-1]
    repository, _, tag = reference.rpartition(":")
    assert repository == f"{registry.host}/example-org/shop/ci-image"
    assert tag.startswith("py3.11-amd64-arm64-")
    assert output.read_text() == f"earlier=step\nimage={reference}\ntag={tag}\n"
    assert manifest_status(registry.host, "example-org/shop/ci-image", tag) == 200
    default = run_poetry(project, "image", "tag", "--platform", github["PLATFORMS"], env=github)
    assert default.stdout.strip() == f"ghcr.io/example-org/shop/ci-image:{tag}", default.stderr
