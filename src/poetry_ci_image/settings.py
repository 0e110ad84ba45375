"""Settings: `[tool.poetry-ci-image]`, overridden by the environment, overridden by options.

Plain data in (the table as parsed from pyproject.toml, the options as given, the environment),
one frozen `Settings` out. Unknown keys and bad types are errors here, before any work starts.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.dockerfile import BUILD_ARGS
from poetry_ci_image.errors import ConfigError


if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence
    from pathlib import Path


TABLE = "tool.poetry-ci-image"
REPOSITORY_ENV = "POETRY_CI_IMAGE_REPOSITORY"
DEFAULT_VARIABLE = "CI_IMAGE"
# Appended to the CI platform's own image namespace when no repository is configured.
CI_REPOSITORY_SUFFIX = "ci-image"

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BUILD_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_STRING_KEYS = ("repository", "python", "platform", "libc", "base", "dockerfile", "tag-file")
_LIST_KEYS = ("hash-files", "with", "without", "only", "extras")
_BOOL_KEYS = ("all-groups", "all-extras", "poetry")
KNOWN_KEYS = (*_STRING_KEYS, *_LIST_KEYS, *_BOOL_KEYS, "variable", "build-args")


@dataclass(frozen=True)
class Options:
    """What the command line says. None (or empty) means: not given, the table decides."""

    repository: str | None = None
    python: str | None = None
    platform: str | None = None
    libc: str | None = None
    base: str | None = None
    dockerfile: str | None = None
    hash_files: tuple[str, ...] = ()
    build_args: tuple[str, ...] = ()  # "KEY=VALUE"
    with_groups: tuple[str, ...] = ()
    without_groups: tuple[str, ...] = ()
    only_groups: tuple[str, ...] = ()
    all_groups: bool = False
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    tag_file: str | None = None
    variable: str | None = None
    poetry: bool | None = None


@dataclass(frozen=True)
class GroupSelection:
    """The dependency groups and extras, as `poetry install` takes them."""

    with_groups: tuple[str, ...] = ()
    without_groups: tuple[str, ...] = ()
    only_groups: tuple[str, ...] = ()
    all_groups: bool = False
    extras: tuple[str, ...] = ()
    all_extras: bool = False


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    repository: str | None
    python: str | None
    platform: str | None
    libc: str | None
    base: str | None
    dockerfile: Path | None
    hash_files: tuple[Path, ...]
    build_args: tuple[tuple[str, str], ...]
    selection: GroupSelection
    tag_file: Path | None
    variable: str
    poetry_in_image: bool
    repository_origin: str = field(default="", compare=False)

    def require_repository(self) -> str:
        if self.repository is None:
            raise ConfigError(
                "No image repository is configured.",
                f"Set repository in [{TABLE}] (for example "
                '"registry.example.com/team/project/ci-image"), '
                f"or {REPOSITORY_ENV}, or pass --repository.",
            )
        return self.repository

    def require_tag_file(self) -> Path:
        if self.tag_file is None:
            raise ConfigError(
                "No tag-file is configured, so there is no recorded reference to check.",
                f'Set tag-file in [{TABLE}] (for example "ci-image.env"), or pass --tag-file.',
            )
        return self.tag_file


def resolve_settings(
    table: Mapping[str, Any],
    options: Options,
    env: Mapping[str, str],
    project_dir: Path,
) -> Settings:
    """Merge the table, the environment and the options into one `Settings`."""
    _check_table(table)

    repository, origin = _repository(table, options, env)
    build_args = _table_build_args(table)
    for item in options.build_args:
        key, sep, value = item.partition("=")
        if not sep or not _BUILD_ARG.match(key):
            raise ConfigError(
                f"--build-arg '{item}' is not of the form KEY=VALUE.",
                "Pass it as --build-arg NAME=value.",
            )
        build_args[key] = value
    reserved = sorted(set(build_args) & set(BUILD_ARGS))
    if reserved:
        raise ConfigError(
            f"The build argument(s) {', '.join(reserved)} are set by the plugin.",
            "Configure them through python, base and poetry instead of build-args.",
        )

    variable = options.variable or table.get("variable", DEFAULT_VARIABLE)
    if not _VARIABLE.match(variable):
        raise ConfigError(
            f"variable '{variable}' is not a valid variable name.",
            "Use letters, digits and underscores, not starting with a digit (e.g. CI_IMAGE).",
        )

    selection = GroupSelection(
        with_groups=options.with_groups or tuple(table.get("with", ())),
        without_groups=options.without_groups or tuple(table.get("without", ())),
        only_groups=options.only_groups or tuple(table.get("only", ())),
        all_groups=options.all_groups or table.get("all-groups", False),
        extras=options.extras or tuple(table.get("extras", ())),
        all_extras=options.all_extras or table.get("all-extras", False),
    )
    if selection.extras and selection.all_extras:
        raise ConfigError(
            "extras and all-extras are both set.",
            "Use one of them: a list of extras, or all-extras = true.",
        )
    if selection.all_groups and (
        selection.with_groups or selection.without_groups or selection.only_groups
    ):
        raise ConfigError(
            "all-groups is set together with with, without or only.",
            "Use all-groups alone, or name the groups.",
        )

    def path(value: str | None) -> Path | None:
        return None if value is None else project_dir / value

    hash_files = options.hash_files or tuple(table.get("hash-files", ()))
    poetry_in_image = options.poetry if options.poetry is not None else table.get("poetry", True)
    return Settings(
        project_dir=project_dir,
        repository=repository,
        repository_origin=origin,
        python=options.python or table.get("python"),
        platform=options.platform or table.get("platform"),
        libc=options.libc or table.get("libc"),
        base=options.base or table.get("base"),
        dockerfile=path(options.dockerfile or table.get("dockerfile")),
        hash_files=tuple(project_dir / item for item in hash_files),
        build_args=tuple(sorted(build_args.items())),
        selection=selection,
        tag_file=path(options.tag_file or table.get("tag-file")),
        variable=variable,
        poetry_in_image=poetry_in_image,
    )


def default_repository(env: Mapping[str, str]) -> tuple[str | None, str]:
    """The repository a CI platform suggests when nothing is configured, and where it came from."""
    if env.get("CI_REGISTRY_IMAGE"):
        return f"{env['CI_REGISTRY_IMAGE']}/{CI_REPOSITORY_SUFFIX}", "CI_REGISTRY_IMAGE"
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REPOSITORY"):
        owner_repo = env["GITHUB_REPOSITORY"].lower()
        return f"ghcr.io/{owner_repo}/{CI_REPOSITORY_SUFFIX}", "GITHUB_REPOSITORY"
    return None, ""


def _repository(
    table: Mapping[str, Any], options: Options, env: Mapping[str, str]
) -> tuple[str | None, str]:
    if options.repository:
        return options.repository, "--repository"
    if env.get(REPOSITORY_ENV):
        return env[REPOSITORY_ENV], REPOSITORY_ENV
    if table.get("repository"):
        return str(table["repository"]), f"[{TABLE}] repository"
    return default_repository(env)


def _table_build_args(table: Mapping[str, Any]) -> dict[str, str]:
    raw = table.get("build-args", {})
    if not isinstance(raw, dict):
        raise ConfigError(
            f"build-args in [{TABLE}] must be a table of strings.",
            'Write it as build-args = { NAME = "value" }.',
        )
    args: dict[str, str] = {}
    for key, value in raw.items():
        if not _BUILD_ARG.match(key) or not isinstance(value, str):
            raise ConfigError(
                f"build-args entry '{key}' in [{TABLE}] is not NAME = \"string\".",
                'Write it as build-args = { NAME = "value" }.',
            )
        args[key] = value
    return args


def _check_table(table: Mapping[str, Any]) -> None:
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(
            f"Unknown key(s) in [{TABLE}]: {', '.join(unknown)}.",
            f"Known keys: {', '.join(KNOWN_KEYS)}.",
        )
    for key in (*_STRING_KEYS, "variable"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{key} in [{TABLE}] must be a string.", _example(key))
    for key in _LIST_KEYS:
        if key in table and not _is_string_list(table[key]):
            raise ConfigError(f"{key} in [{TABLE}] must be a list of strings.", _example(key))
    for key in _BOOL_KEYS:
        if key in table and not isinstance(table[key], bool):
            raise ConfigError(f"{key} in [{TABLE}] must be true or false.", _example(key))


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _example(key: str) -> str:
    examples: dict[str, str] = {
        "repository": 'repository = "registry.example.com/team/project/ci-image"',
        "python": 'python = "3.12"',
        "platform": 'platform = "linux/amd64"',
        "libc": 'libc = "glibc 2.36"',
        "base": 'base = "python:3.12-slim"',
        "dockerfile": 'dockerfile = "ci/Dockerfile"',
        "tag-file": 'tag-file = "ci-image.env"',
        "variable": 'variable = "CI_IMAGE"',
        "hash-files": 'hash-files = ["ci/apt-packages.txt"]',
        "with": 'with = ["docs"]',
        "without": 'without = ["docs"]',
        "only": 'only = ["main"]',
        "extras": 'extras = ["postgres"]',
        "all-groups": "all-groups = true",
        "all-extras": "all-extras = true",
        "poetry": "poetry = false",
    }
    return f"For example: {examples[key]}"


def split_list_options(values: Sequence[str]) -> tuple[str, ...]:
    """`--with a,b --with c` and `-E "a b"` as Poetry reads them: ('a', 'b', 'c')."""
    items: list[str] = []
    for value in values:
        items += [item for item in re.split(r"[,\s]+", value) if item]
    return tuple(items)
