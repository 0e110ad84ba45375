"""The example files agree with each other, with the versions under test, and with the docs."""

from __future__ import annotations

import shutil

from importlib import metadata
from typing import TYPE_CHECKING

import pytest

from tests.recipes.conftest import GITHUB_WORKFLOW
from tests.recipes.conftest import GITLAB_CHANGES_EXAMPLE
from tests.recipes.conftest import GITLAB_COMPILED_EXAMPLE
from tests.recipes.conftest import GITLAB_EXAMPLE
from tests.recipes.conftest import GITLAB_TAG_FILE_EXAMPLE
from tests.recipes.conftest import PRE_COMMIT_CONFIG
from tests.recipes.conftest import PRE_PUSH_SCRIPT
from tests.recipes.conftest import README
from tests.recipes.conftest import RECIPES_DOC
from tests.recipes.conftest import load_yaml
from tests.support.poetry_cli import run_poetry


if TYPE_CHECKING:
    from pathlib import Path


def versions_under_test() -> dict[str, str]:
    return {
        "POETRY_VERSION": metadata.version("poetry"),
        "POETRY_CI_IMAGE_VERSION": metadata.version("poetry-ci-image"),
    }


@pytest.mark.parametrize(
    "example",
    [GITLAB_EXAMPLE, GITLAB_TAG_FILE_EXAMPLE, GITLAB_CHANGES_EXAMPLE, GITLAB_COMPILED_EXAMPLE],
    ids=lambda path: path.name,
)
def test_the_gitlab_recipes_install_the_versions_under_test(example: Path) -> None:
    """The deps job pins this Poetry (its version is in the tag) and this plugin."""
    variables = load_yaml(example / ".gitlab-ci.yml")["deps"]["variables"]
    assert {name: variables[name] for name in versions_under_test()} == versions_under_test()


def test_the_github_recipe_installs_the_versions_under_test() -> None:
    """The deps job pins this Poetry (its version is in the tag) and this plugin."""
    env = load_yaml(GITHUB_WORKFLOW)["jobs"]["deps"]["env"]
    assert {name: env[name] for name in versions_under_test()} == versions_under_test()


@pytest.mark.slow
def test_the_example_tag_file_records_the_image_of_its_lock(
    tmp_path: Path, host_env: dict[str, str]
) -> None:
    """examples/gitlab-tag-file is committed as `poetry image tag` leaves it: `--check` passes,
    offline."""
    project = tmp_path / "example"
    shutil.copytree(
        GITLAB_TAG_FILE_EXAMPLE, project, ignore=shutil.ignore_patterns(".gitlab-ci-local")
    )
    result = run_poetry(project, "image", "tag", "--check", env=host_env)
    assert (result.returncode, result.stderr) == (0, "ci-image.yml is up to date.\n")


@pytest.mark.parametrize(
    ("quoted", "doc"),
    [
        pytest.param(
            GITLAB_EXAMPLE / ".gitlab-ci.yml", README, id="gitlab/.gitlab-ci.yml in README.md"
        ),
        pytest.param(GITHUB_WORKFLOW, README, id="workflows/ci.yml in README.md"),
        pytest.param(
            GITLAB_TAG_FILE_EXAMPLE / "ci-image.yml",
            RECIPES_DOC,
            id="gitlab-tag-file/ci-image.yml in docs/recipes.md",
        ),
        pytest.param(
            GITLAB_TAG_FILE_EXAMPLE / ".gitlab-ci.yml",
            RECIPES_DOC,
            id="gitlab-tag-file/.gitlab-ci.yml in docs/recipes.md",
        ),
        pytest.param(
            GITLAB_CHANGES_EXAMPLE / ".gitlab-ci.yml",
            RECIPES_DOC,
            id="gitlab-changes/.gitlab-ci.yml in docs/recipes.md",
        ),
        pytest.param(
            GITLAB_COMPILED_EXAMPLE / ".gitlab-ci.yml",
            RECIPES_DOC,
            id="gitlab-compiled/.gitlab-ci.yml in docs/recipes.md",
        ),
        pytest.param(
            PRE_COMMIT_CONFIG,
            RECIPES_DOC,
            id="pre-commit/.pre-commit-config.yaml in docs/recipes.md",
        ),
        pytest.param(PRE_PUSH_SCRIPT, RECIPES_DOC, id="git-hooks/pre-push in docs/recipes.md"),
    ],
)
def test_the_docs_quote_the_tested_file_verbatim(quoted: Path, doc: Path) -> None:
    """What a reader copies from the README or docs/recipes.md is the file the tests run."""
    assert f"\n{quoted.read_text()}```\n" in doc.read_text()
