"""Settings: `[tool.poetry-ci-image]`, overridden by the environment, overridden by options.

`SETTINGS` is the one table of them: each key's type, default, help and example. The command
options, the validation of the table, the defaults and the README's configuration table are all
made from it (tests/unit/test_settings.py checks the README against `configuration_table()`).

Plain data in (the table as parsed from pyproject.toml, the options as given, the environment),
one frozen `Settings` out. Unknown keys and bad types are errors here, before any work starts.
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

from poetry_ci_image.errors import ConfigError


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Sequence
    from pathlib import Path


TABLE = "tool.poetry-ci-image"
REPOSITORY_ENV = "POETRY_CI_IMAGE_REPOSITORY"
DEFAULT_VARIABLE = "CI_IMAGE"
DEFAULT_LAYERS = 24
MAX_LAYERS = 100  # of the dependencies; images may have 127 layers, the base brings its own
# Appended to the CI platform's own image namespace when no repository is configured.
CI_REPOSITORY_SUFFIX = "ci-image"
# The build arguments the plugin passes to your own Dockerfile; `build-args` may not redefine them.
RESERVED_BUILD_ARGS = ("BASE_IMAGE", "PYTHON_VERSION", "VENV", "POETRY_VERSION")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Kind = Literal["string", "strings", "bool", "int", "table", "platforms"]


@dataclass(frozen=True)
class Setting:
    """One key of `[tool.poetry-ci-image]` and its command-line option."""

    key: str
    kind: Kind
    help: str  # the option's help text
    default: str  # the default, as the README states it
    meaning: str  # the README's explanation
    example: str  # a TOML line that sets it
    option: str = ""  # the option's name when it is not the key's
    shortcut: str | None = None
    value_name: str = ""  # how --help shows the value (build-args: NAME=value)
    switch_off: bool = False  # an optional key: `--no-<key>` ignores the table's value
    split: bool = False  # list options are split at commas and spaces, as Poetry's --with

    @property
    def option_name(self) -> str:
        return self.option or self.key

    @property
    def off_option(self) -> str | None:
        """`--no-<key>`: false for a boolean, "not set" for an optional key."""
        return f"no-{self.key}" if self.kind == "bool" or self.switch_off else None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "repository",
        "string",
        "Image repository, without tag.",
        f"`${REPOSITORY_ENV}`; in GitLab CI `$CI_REGISTRY_IMAGE/ci-image`; in GitHub Actions "
        "`ghcr.io/<owner>/<repo>/ci-image`",
        "image name without tag; required by `tag`, `build` and `push`",
        'repository = "registry.example.com/team/project/ci-image"',
    ),
    Setting(
        "python",
        "string",
        "Target CPython version, X.Y.",
        "the Python of a `python:X.Y...` base, else the lowest minor the project's "
        "`requires-python` allows",
        "target CPython `X.Y` (or `X.Y.Z`, to pin the patch level markers see)",
        'python = "3.12"',
    ),
    Setting(
        "platform",
        "platforms",
        "Target platform(s): linux/amd64, linux/arm64, or both, comma-separated.",
        "`linux/amd64`",
        "`linux/amd64`, `linux/arm64`, or a list of both: one tag for an image index",
        'platform = ["linux/amd64", "linux/arm64"]',
        split=True,
    ),
    Setting(
        "base",
        "string",
        "Base image (default: python:X.Y-slim).",
        "`python:X.Y-slim`",
        "base image, read from its registry (`name@sha256:...` pins it)",
        'base = "python:3.12-slim"',
    ),
    Setting(
        "libc",
        "string",
        "Target libc, e.g. 'glibc 2.36' (default: from the base's name).",
        "from the base's name (see [Targets](#targets))",
        "`glibc 2.36`, `musl 1.2`, ...; `push` and `build` check it against the base's files",
        'libc = "glibc 2.36"',
        switch_off=True,
    ),
    Setting(
        "dockerfile",
        "string",
        "Your own Dockerfile, built by the Docker engine, instead of the built-in recipe.",
        "none: the built-in recipe, no engine",
        "your own Dockerfile, relative to pyproject.toml (see [Your own "
        "Dockerfile](#your-own-dockerfile))",
        'dockerfile = "ci/Dockerfile"',
        switch_off=True,
    ),
    Setting(
        "hash-files",
        "strings",
        "A file whose content feeds the fingerprint (repeatable).",
        "none",
        "files whose content feeds the fingerprint and that go into your Dockerfile's build "
        "context (e.g. an apt package list)",
        'hash-files = ["ci/apt-packages.txt"]',
        option="hash-file",
        switch_off=True,
    ),
    Setting(
        "build-args",
        "table",
        "A build argument for your Dockerfile, NAME=value (repeatable).",
        "none",
        "build arguments for your Dockerfile (in the fingerprint, and visible in "
        "`docker history`: never put secrets there)",
        'build-args = { NAME = "value" }',
        option="build-arg",
        value_name="NAME=value",
        switch_off=True,
    ),
    Setting(
        "with",
        "strings",
        "The optional dependency groups to include.",
        "none",
        "optional groups to install too, as `poetry install --with`",
        'with = ["docs"]',
        switch_off=True,
        split=True,
    ),
    Setting(
        "without",
        "strings",
        "The dependency groups to ignore.",
        "none",
        "groups to leave out, as `poetry install --without`",
        'without = ["docs"]',
        switch_off=True,
        split=True,
    ),
    Setting(
        "only",
        "strings",
        "The only dependency groups to include.",
        "none: main and every non-optional group, as `poetry install`",
        'the only groups to install, as `poetry install --only`; `only = ["main"]` gives a '
        "runtime image",
        'only = ["main"]',
        switch_off=True,
        split=True,
    ),
    Setting(
        "all-groups",
        "bool",
        "Include dependencies from all groups.",
        "false",
        "every group, optional ones included",
        "all-groups = true",
    ),
    Setting(
        "extras",
        "strings",
        "Extra sets of dependencies to include.",
        "none",
        "extras to install",
        'extras = ["postgres"]',
        shortcut="E",
        switch_off=True,
        split=True,
    ),
    Setting(
        "all-extras",
        "bool",
        "Include all extra dependencies.",
        "false",
        "every extra",
        "all-extras = true",
    ),
    Setting(
        "tag-file",
        "string",
        "File that records the reference (.env or .yml).",
        "none",
        "where `poetry image tag` records the reference: `*.env` (a `VARIABLE=reference` line; "
        "other lines are kept) or `*.yml`/`*.yaml` (a GitLab CI `variables:` file, owned by the "
        "plugin)",
        'tag-file = "ci-image.env"',
        switch_off=True,
    ),
    Setting(
        "variable",
        "string",
        "Variable name in the tag-file (default: CI_IMAGE).",
        f"`{DEFAULT_VARIABLE}`",
        "the variable name in the tag-file",
        'variable = "CI_IMAGE"',
    ),
    Setting(
        "poetry",
        "bool",
        "Put Poetry into the image.",
        "true",
        "put Poetry (the version running the plugin) into the image",
        "poetry = false",
    ),
    Setting(
        "layers",
        "int",
        f"How many layers the dependencies may take (default: {DEFAULT_LAYERS}).",
        f"`{DEFAULT_LAYERS}`",
        f"layers for the dependencies (1 to {MAX_LAYERS}): large packages get their own, the "
        "rest share the others (see [The image](#the-image))",
        f"layers = {DEFAULT_LAYERS}",
    ),
)
BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}


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


def _type_problem(setting: Setting, raw: object) -> str | None:
    """What is wrong with the type of `raw` for `setting`, or None."""
    if setting.kind == "string" and not isinstance(raw, str):
        return "must be a string"
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


def configuration_table() -> str:
    """The README's configuration table, in Markdown, made from `SETTINGS`."""
    rows = ["| key | option | default | meaning |", "|---|---|---|---|"]
    for setting in SETTINGS:
        option = f"`--{setting.option_name}`"
        if setting.shortcut:
            option = f"`-{setting.shortcut}`/{option}"
        if setting.value_name:
            option = f"`--{setting.option_name} {setting.value_name}`"
        if setting.kind in {"strings", "table"} and not setting.split:
            option += " (repeatable)"
        if setting.off_option:
            option += f", `--{setting.off_option}`"
        rows.append(f"| `{setting.key}` | {option} | {setting.default} | {setting.meaning} |")
    return "\n".join(rows) + "\n"
