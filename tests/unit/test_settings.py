"""Settings: the table, then the environment, then the options; bad values fail early."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.settings.merge import GroupSelection
from poetry_ci_image.settings.merge import Options
from poetry_ci_image.settings.merge import resolve_settings
from poetry_ci_image.settings.merge import split_list_options
from poetry_ci_image.settings.table import SETTINGS
from poetry_ci_image.settings.table import configuration_table


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
            Options({"repository": "reg.example/c"}),
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


# Every key: a table value, an option value, and what the option gives in Settings.
EVERY_KEY = [
    ("repository", "reg.example/a", "reg.example/b", "repository", "reg.example/b"),
    ("python", "3.11", "3.12", "python", "3.12"),
    ("platform", "linux/amd64", ("linux/arm64",), "platforms", ("linux/arm64",)),
    ("base", "python:3.11-slim", "python:3.12-slim", "base", "python:3.12-slim"),
    ("libc", "glibc 2.36", "glibc 2.31", "libc", "glibc 2.31"),
    ("dockerfile", "ci/Dockerfile", "Dockerfile.ci", "dockerfile", ROOT / "Dockerfile.ci"),
    ("hash-files", ["a.txt"], ("b.txt",), "hash_files", (ROOT / "b.txt",)),
    ("build-args", {"A": "1"}, ("A=2", "B=3"), "build_args", (("A", "2"), ("B", "3"))),
    ("with", ["docs"], ("lint",), "selection.with_groups", ("lint",)),
    ("without", ["docs"], ("lint",), "selection.without_groups", ("lint",)),
    ("only", ["main"], ("dev",), "selection.only_groups", ("dev",)),
    ("all-groups", True, False, "selection.all_groups", False),
    ("extras", ["fast"], ("slow",), "selection.extras", ("slow",)),
    ("all-extras", True, False, "selection.all_extras", False),
    ("tag-file", "ci.env", "ci.yml", "tag_file", ROOT / "ci.yml"),
    ("variable", "IMAGE", "OTHER", "variable", "OTHER"),
    ("poetry", True, False, "poetry_in_image", False),
    ("system-packages", ["git"], ("libpq5",), "system_packages", ("libpq5",)),
    (
        "system-sources",
        ["deb http://a.example/debian bookworm main"],
        ("deb http://b.example/debian bookworm main",),
        "system_sources",
        ("deb http://b.example/debian bookworm main",),
    ),
    ("bytecode", "unchecked", "off", "bytecode", "off"),
    ("layers", 10, "12", "layers", 12),
]


def attribute(settings: Any, path: str) -> Any:
    for name in path.split("."):
        settings = getattr(settings, name)
    return settings


def test_the_table_of_keys_is_complete() -> None:
    """The cases below name every key of SETTINGS, no more, no less."""
    assert [row[0] for row in EVERY_KEY] == [setting.key for setting in SETTINGS]


@pytest.mark.parametrize(
    ("key", "in_table", "given", "field", "expected"),
    [pytest.param(*row, id=row[0]) for row in EVERY_KEY],
)
def test_the_option_wins_over_the_table(
    key: str, in_table: Any, given: Any, field: str, expected: Any
) -> None:
    """Every key has an option, and the option wins over the table."""
    assert attribute(settings_of({key: in_table}, Options({key: given})), field) == expected


@pytest.mark.parametrize(
    ("key", "in_table", "field", "off"),
    [
        pytest.param("all-groups", True, "selection.all_groups", False, id="--no-all-groups"),
        pytest.param("all-extras", True, "selection.all_extras", False, id="--no-all-extras"),
        pytest.param("poetry", True, "poetry_in_image", False, id="--no-poetry"),
        pytest.param("tag-file", "ci.env", "tag_file", None, id="--no-tag-file"),
        pytest.param("dockerfile", "ci/Dockerfile", "dockerfile", None, id="--no-dockerfile"),
        pytest.param("libc", "musl 1.2", "libc", None, id="--no-libc"),
        pytest.param("hash-files", ["a.txt"], "hash_files", (), id="--no-hash-files"),
        pytest.param("build-args", {"A": "1"}, "build_args", (), id="--no-build-args"),
        pytest.param("with", ["docs"], "selection.with_groups", (), id="--no-with"),
        pytest.param("without", ["docs"], "selection.without_groups", (), id="--no-without"),
        pytest.param("only", ["main"], "selection.only_groups", (), id="--no-only"),
        pytest.param("extras", ["fast"], "selection.extras", (), id="--no-extras"),
    ],
)
def test_an_option_switches_off_what_the_table_turns_on(
    key: str, in_table: Any, field: str, off: Any
) -> None:
    """`--no-<key>` is False for a boolean, and "as if the table did not set it" otherwise."""
    value = False if isinstance(in_table, bool) else None
    assert attribute(settings_of({key: in_table}, Options({key: value})), field) == off


def test_every_key_can_be_switched_off_or_overridden() -> None:
    """Booleans and optional keys have `--no-<key>`; the rest are overridden by a value."""
    with_off = {setting.key for setting in SETTINGS if setting.off_option}
    assert with_off == {
        "all-groups", "all-extras", "poetry", "tag-file", "dockerfile", "libc",
        "hash-files", "build-args", "with", "without", "only", "extras",
        "system-packages", "system-sources",
    }  # fmt: skip
    required = {setting.key for setting in SETTINGS} - with_off
    assert required == {
        "repository",
        "python",
        "platform",
        "base",
        "variable",
        "bytecode",
        "layers",
    }


def test_the_docs_document_every_key_as_the_code_reads_it() -> None:
    """docs/configuration.md's table is the one `configuration_table()` makes from SETTINGS."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    start = page.index("<!-- configuration-table: start -->\n") + len(
        "<!-- configuration-table: start -->\n"
    )
    end = page.index("<!-- configuration-table: end -->")
    assert page[start:end] == configuration_table(), (
        "docs/configuration.md's table is stale: run "
        "`.venv/bin/python scripts/configuration_table.py`"
    )


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
            {"repository": ""},
            Options(),
            "repository in [tool.poetry-ci-image] is empty.",
            id="an empty string in the table",
        ),
        pytest.param(
            {"repository": "registry.example/app"},
            Options({"repository": ""}),
            "--repository was given an empty value.",
            id="an empty option (an unset variable in a script)",
        ),
        pytest.param(
            {"build-args": {"A": 1}},
            Options(),
            "build-args in [tool.poetry-ci-image] has an entry 'A' that is not NAME = \"string\".",
            id="a build argument that is not a string",
        ),
        pytest.param(
            {},
            Options({"build-args": ("NOVALUE",)}),
            "--build-arg 'NOVALUE' is not of the form NAME=value.",
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
            Options({"only": ("main",)}),
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
