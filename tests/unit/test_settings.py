"""Settings: the table, then the environment, then the options; bad values fail early."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.settings import GroupSelection
from poetry_ci_image.settings import Options
from poetry_ci_image.settings import resolve_settings
from poetry_ci_image.settings import split_list_options


ROOT = Path("/project")


def settings_of(
    table: dict[str, Any] | None = None,
    options: Options | None = None,
    env: dict[str, str] | None = None,
) -> Any:
    return resolve_settings(table or {}, options or Options(), env or {}, ROOT)


def test_defaults() -> None:
    """With nothing configured: no repository, Poetry in the image, what poetry install installs."""
    settings = settings_of()
    assert settings.repository is None
    assert settings.poetry_in_image is True
    assert settings.variable == "CI_IMAGE"
    assert settings.selection == GroupSelection()
    assert settings.tag_file is None
    assert settings.dockerfile is None


@pytest.mark.parametrize(
    ("table", "options", "env", "repository"),
    [
        pytest.param({"repository": "reg.example/a"}, Options(), {}, "reg.example/a", id="table"),
        pytest.param(
            {"repository": "reg.example/a"},
            Options(),
            {"POETRY_CI_IMAGE_REPOSITORY": "reg.example/b"},
            "reg.example/b",
            id="environment wins over the table",
        ),
        pytest.param(
            {"repository": "reg.example/a"},
            Options(repository="reg.example/c"),
            {"POETRY_CI_IMAGE_REPOSITORY": "reg.example/b"},
            "reg.example/c",
            id="option wins over everything",
        ),
        pytest.param(
            {},
            Options(),
            {"CI_REGISTRY_IMAGE": "registry.gitlab.example/group/app"},
            "registry.gitlab.example/group/app/ci-image",
            id="GitLab CI default",
        ),
        pytest.param(
            {},
            Options(),
            {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "Octo-Org/App"},
            "ghcr.io/octo-org/app/ci-image",
            id="GitHub Actions default, lower-cased",
        ),
        pytest.param(
            {"repository": "reg.example/a"},
            Options(),
            {"CI_REGISTRY_IMAGE": "registry.gitlab.example/group/app"},
            "reg.example/a",
            id="configuration wins over the CI default",
        ),
    ],
)
def test_repository_precedence(
    table: dict[str, Any], options: Options, env: dict[str, str], repository: str
) -> None:
    """Options beat the environment, which beats the table, which beats CI defaults."""
    assert settings_of(table, options, env).repository == repository


def test_options_win_over_the_table() -> None:
    """Every key has an option, and the option wins."""
    table = {
        "python": "3.11",
        "platform": "linux/amd64",
        "base": "python:3.11-slim",
        "dockerfile": "ci/Dockerfile",
        "tag-file": "ci.env",
        "variable": "IMAGE",
        "hash-files": ["a.txt"],
        "build-args": {"A": "1"},
        "with": ["docs"],
        "extras": ["fast"],
        "poetry": True,
    }
    options = Options(
        python="3.12",
        platform="linux/arm64",
        base="python:3.12-slim",
        dockerfile="Dockerfile.ci",
        tag_file="ci.yml",
        variable="OTHER",
        hash_files=("b.txt",),
        build_args=("A=2", "B=3"),
        with_groups=("lint",),
        extras=("slow",),
        poetry=False,
    )
    settings = settings_of(table, options)
    assert (settings.python, settings.platform, settings.base) == (
        "3.12",
        "linux/arm64",
        "python:3.12-slim",
    )
    assert settings.dockerfile == ROOT / "Dockerfile.ci"
    assert settings.tag_file == ROOT / "ci.yml"
    assert settings.variable == "OTHER"
    assert settings.hash_files == (ROOT / "b.txt",)
    assert settings.build_args == (("A", "2"), ("B", "3"))
    assert settings.selection.with_groups == ("lint",)
    assert settings.selection.extras == ("slow",)
    assert settings.poetry_in_image is False


@pytest.mark.parametrize(
    ("table", "options", "message"),
    [
        pytest.param(
            {"repo": "x"},
            Options(),
            "Unknown key(s) in [tool.poetry-ci-image]: repo.",
            id="a typo in a key",
        ),
        pytest.param(
            {"hash-files": "apt.txt"},
            Options(),
            "hash-files in [tool.poetry-ci-image] must be a list of strings.",
            id="a string where a list belongs",
        ),
        pytest.param(
            {"poetry": "no"},
            Options(),
            "poetry in [tool.poetry-ci-image] must be true or false.",
            id="a string where a boolean belongs",
        ),
        pytest.param(
            {"python": 3.12},
            Options(),
            "python in [tool.poetry-ci-image] must be a string.",
            id="a number where a string belongs",
        ),
        pytest.param(
            {"build-args": {"A": 1}},
            Options(),
            "build-args entry 'A' in [tool.poetry-ci-image] is not NAME = \"string\".",
            id="a build argument that is not a string",
        ),
        pytest.param(
            {},
            Options(build_args=("NOVALUE",)),
            "--build-arg 'NOVALUE' is not of the form KEY=VALUE.",
            id="a build argument without a value",
        ),
        pytest.param(
            {"build-args": {"BASE_IMAGE": "x"}},
            Options(),
            "The build argument(s) BASE_IMAGE are set by the plugin.",
            id="a build argument the plugin owns",
        ),
        pytest.param(
            {"variable": "CI-IMAGE"},
            Options(),
            "variable 'CI-IMAGE' is not a valid variable name.",
            id="a variable name with a dash",
        ),
        pytest.param(
            {"extras": ["a"], "all-extras": True},
            Options(),
            "extras and all-extras are both set.",
            id="extras and all extras",
        ),
        pytest.param(
            {"all-groups": True},
            Options(only_groups=("main",)),
            "all-groups is set together with with, without or only.",
            id="all groups and only",
        ),
    ],
)
def test_bad_settings(table: dict[str, Any], options: Options, message: str) -> None:
    """A bad key or value is one ConfigError that names it and says how to write it."""
    with pytest.raises(ConfigError) as raised:
        settings_of(table, options)
    assert raised.value.message == message
    assert raised.value.hint


def test_missing_repository_says_how_to_set_it() -> None:
    """Commands that need a repository fail with the three ways to give one."""
    with pytest.raises(ConfigError) as raised:
        settings_of().require_repository()
    assert raised.value.message == "No image repository is configured."
    assert "POETRY_CI_IMAGE_REPOSITORY" in str(raised.value.hint)
    assert "--repository" in str(raised.value.hint)


@pytest.mark.parametrize(
    ("values", "items"),
    [
        pytest.param(["a,b", "c"], ("a", "b", "c"), id="commas and repeats"),
        pytest.param(["a b"], ("a", "b"), id="spaces, as -E 'a b'"),
        pytest.param([], (), id="nothing"),
    ],
)
def test_split_list_options(values: list[str], items: tuple[str, ...]) -> None:
    """List options are read as Poetry reads --with and --extras."""
    assert split_list_options(values) == items
