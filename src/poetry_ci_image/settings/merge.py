"""Settings: `[tool.poetry-ci-image]`, overridden by the environment, overridden by options.

What the keys are, their types and defaults, is `SETTINGS` in table.py; this module
checks a table against it and merges table, environment and options.

Plain data in (the table as parsed from pyproject.toml, the options as given, the environment),
one frozen `Settings` out. Unknown keys and bad types are errors here, before any work starts.
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.settings.table import BY_KEY
from poetry_ci_image.settings.table import BYTECODE_MODES
from poetry_ci_image.settings.table import DEFAULT_LAYERS
from poetry_ci_image.settings.table import DEFAULT_VARIABLE
from poetry_ci_image.settings.table import MAX_LAYERS
from poetry_ci_image.settings.table import REPOSITORY_ENV
from poetry_ci_image.settings.table import SYSTEM_SOURCES_ENV
from poetry_ci_image.settings.table import Setting


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Sequence
    from pathlib import Path


TABLE = "tool.poetry-ci-image"
# Appended to the CI platform's own image namespace when no repository is configured.
CI_REPOSITORY_SUFFIX = "ci-image"
# The build arguments the plugin passes to your own Dockerfile; `build-args` may not redefine them.
RESERVED_BUILD_ARGS = ("BASE_IMAGE", "PYTHON_VERSION", "VENV", "POETRY_VERSION")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Options(Mapping[str, Any]):
    """What the command line gave, by setting key (`{"hash-files": ("a.txt",)}`).

    A key that is absent was not given: the table decides. `None` is `--no-<key>` of an optional
    key (ignore the table's value); a boolean's `--no-<key>` is False. Lists come split.
    """

    def __init__(self, given: Mapping[str, Any] | None = None) -> None:
        values = dict(given or {})
        unknown = sorted(set(values) - set(BY_KEY))
        if unknown:
            raise ValueError(f"not settings: {', '.join(unknown)}")
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Options({self._values!r})"


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
    platforms: tuple[str, ...]  # empty: the default platform
    libc: str | None
    base: str | None
    dockerfile: Path | None
    hash_files: tuple[Path, ...]
    build_args: tuple[tuple[str, str], ...]
    selection: GroupSelection
    tag_file: Path | None
    variable: str
    poetry_in_image: bool
    layers: int
    bytecode: str | None  # checked, unchecked or off; None: not configured (the default)
    system_packages: tuple[str, ...] = ()
    system_sources: tuple[str, ...] = ()  # may hold credentials (from the environment)

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
    _check_options(options)

    def value(key: str) -> Any:
        """The option if given (None: switched off), else the table's value, else None."""
        if key in options:
            return options[key]
        return table.get(key)

    def path(key: str) -> Path | None:
        given = value(key)
        return None if given is None else project_dir / given

    build_args = _build_args(table, options)
    variable = value("variable") or DEFAULT_VARIABLE
    if not _NAME.match(variable):
        raise ConfigError(
            f"variable '{variable}' is not a valid variable name.",
            "Use letters, digits and underscores, not starting with a digit (e.g. CI_IMAGE).",
        )
    selection = GroupSelection(
        with_groups=tuple(value("with") or ()),
        without_groups=tuple(value("without") or ()),
        only_groups=tuple(value("only") or ()),
        all_groups=bool(value("all-groups")),
        extras=tuple(value("extras") or ()),
        all_extras=bool(value("all-extras")),
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
    platform = value("platform")
    platforms = (platform,) if isinstance(platform, str) else tuple(platform or ())
    layers = value("layers")
    if layers is None:
        layers = DEFAULT_LAYERS
    elif isinstance(layers, str):
        layers = _parse_int("--layers", layers)
    if not 1 <= layers <= MAX_LAYERS:
        raise ConfigError(
            f"layers is {layers}, outside 1 to {MAX_LAYERS}.",
            f"Set layers to a number from 1 to {MAX_LAYERS} (the default is {DEFAULT_LAYERS}).",
        )
    poetry = value("poetry")
    bytecode = value("bytecode")
    if bytecode is not None and bytecode not in BYTECODE_MODES:
        raise ConfigError(
            f"bytecode is '{bytecode}', not one of {', '.join(BYTECODE_MODES)}.",
            'Set bytecode = "checked" (the default), "unchecked" or "off".',
        )
    return Settings(
        project_dir=project_dir,
        repository=_repository(table, options, env),
        python=value("python"),
        platforms=tuple(dict.fromkeys(platforms)),
        libc=value("libc"),
        base=value("base"),
        dockerfile=path("dockerfile"),
        hash_files=tuple(project_dir / item for item in value("hash-files") or ()),
        build_args=tuple(sorted(build_args.items())),
        selection=selection,
        tag_file=path("tag-file"),
        variable=variable,
        poetry_in_image=True if poetry is None else bool(poetry),
        layers=layers,
        bytecode=bytecode,
        system_packages=tuple(dict.fromkeys(value("system-packages") or ())),
        system_sources=_system_sources(value("system-sources"), env),
    )


def default_repository(env: Mapping[str, str]) -> str | None:
    """The repository a CI platform suggests when nothing is configured."""
    if env.get("CI_REGISTRY_IMAGE"):
        return f"{env['CI_REGISTRY_IMAGE']}/{CI_REPOSITORY_SUFFIX}"
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REPOSITORY"):
        owner_repo = env["GITHUB_REPOSITORY"].lower()
        return f"ghcr.io/{owner_repo}/{CI_REPOSITORY_SUFFIX}"
    return None


def _repository(table: Mapping[str, Any], options: Options, env: Mapping[str, str]) -> str | None:
    if options.get("repository"):
        return str(options["repository"])
    if env.get(REPOSITORY_ENV):
        return env[REPOSITORY_ENV]
    if table.get("repository"):
        return str(table["repository"])
    return default_repository(env)


def _system_sources(given: Sequence[str] | None, env: Mapping[str, str]) -> tuple[str, ...]:
    """The sources for the system packages: the environment's (which may hold a mirror's
    credentials), else the option's or the table's."""
    from_env = [line.strip() for line in env.get(SYSTEM_SOURCES_ENV, "").splitlines()]
    return tuple(line for line in from_env if line) or tuple(given or ())


def _build_args(table: Mapping[str, Any], options: Options) -> dict[str, str]:
    """The table's build arguments, then the options' (`--no-build-args` drops the table's)."""
    args: dict[str, str] = {}
    if "build-args" not in options or options["build-args"] is not None:
        args.update(table.get("build-args", {}))
    for item in options.get("build-args") or ():
        key, sep, given = item.partition("=")
        if not sep or not _NAME.match(key):
            raise ConfigError(
                f"--build-arg '{item}' is not of the form NAME=value.",
                "Pass it as --build-arg NAME=value.",
            )
        args[key] = given
    reserved = sorted(set(args) & set(RESERVED_BUILD_ARGS))
    if reserved:
        raise ConfigError(
            f"The build argument(s) {', '.join(reserved)} are set by the plugin.",
            "Configure them through python, base and poetry instead of build-args.",
        )
    return args


def _parse_int(where: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{where} '{text}' is not a whole number.", "Pass a number.") from None


def _check_table(table: Mapping[str, Any]) -> None:
    unknown = sorted(set(table) - set(BY_KEY))
    if unknown:
        raise ConfigError(
            f"Unknown key(s) in [{TABLE}]: {', '.join(unknown)}.",
            f"Known keys: {', '.join(BY_KEY)}.",
        )
    for key, raw in table.items():
        setting = BY_KEY[key]
        problem = _type_problem(setting, raw)
        if problem:
            raise ConfigError(f"{key} in [{TABLE}] {problem}.", f"For example: {setting.example}")


def _check_options(options: Options) -> None:
    """An option given an empty value (`--repository ''`, an unset variable in a script) is a
    mistake, not "use the table's value"."""
    for key, given in options.items():
        setting = BY_KEY.get(key)
        if setting is not None and isinstance(given, str) and not given.strip():
            off = f", or --{setting.off_option} to switch it off" if setting.off_option else ""
            raise ConfigError(
                f"--{setting.option_name} was given an empty value.",
                f"Give it a value, or leave the option out{off}.",
            )


def _type_problem(setting: Setting, raw: object) -> str | None:
    """What is wrong with the type of `raw` for `setting`, or None."""
    if setting.kind == "string":
        if not isinstance(raw, str):
            return "must be a string"
        if not raw.strip():
            return "is empty"
    if setting.kind == "strings" and not _is_string_list(raw):
        return "must be a list of strings"
    if setting.kind == "platforms" and not (isinstance(raw, str) or _is_string_list(raw)):
        return "must be a string or a list of strings"
    if setting.kind == "bool" and not isinstance(raw, bool):
        return "must be true or false"
    if setting.kind == "int" and (isinstance(raw, bool) or not isinstance(raw, int)):
        return "must be a whole number"
    if setting.kind == "table":
        if not isinstance(raw, dict):
            return 'must be a table of strings, NAME = "value"'
        for name, item in raw.items():
            if not _NAME.match(name) or not isinstance(item, str):
                return f"has an entry '{name}' that is not NAME = \"string\""
    return None


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def split_list_options(values: Sequence[str]) -> tuple[str, ...]:
    """`--with a,b --with c` and `-E "a b"` as Poetry reads them: ('a', 'b', 'c')."""
    items: list[str] = []
    for value in values:
        items += [item for item in re.split(r"[,\s]+", value) if item]
    return tuple(items)
