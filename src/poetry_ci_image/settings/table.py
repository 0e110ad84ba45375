"""The one table of settings: every key of `[tool.poetry-ci-image]`, its type, default, help and
example. The command options (commands/image_command.py), the table's validation and defaults
(merge.py) and docs/configuration.md's table (`configuration_table()`, checked against the
page by tests/unit/test_settings.py, written by scripts/configuration_table.py) all come from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


REPOSITORY_ENV = "POETRY_CI_IMAGE_REPOSITORY"
SYSTEM_SOURCES_ENV = "POETRY_CI_IMAGE_SYSTEM_SOURCES"
DEFAULT_VARIABLE = "CI_IMAGE"
DEFAULT_LAYERS = 64
BYTECODE_MODES = ("checked", "unchecked", "off")
DEFAULT_BYTECODE = "checked"
MAX_LAYERS = 100  # of the dependencies; images may have 127 layers, the base brings its own

Kind = Literal["string", "strings", "bool", "int", "table", "platforms"]


@dataclass(frozen=True)
class Setting:
    """One key of `[tool.poetry-ci-image]` and its command-line option."""

    key: str
    kind: Kind
    help: str  # the option's help text
    default: str  # the default, as docs/configuration.md states it (links relative to docs/)
    meaning: str  # docs/configuration.md's explanation
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
        "from the base's name (see [Targets](targets-and-limits.md#targets))",
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
        "Dockerfile](own-dockerfile.md))",
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
        "system-packages",
        "strings",
        "A Debian package to install into the image, name or name=version (repeatable).",
        "none",
        "Debian packages (and what they depend on) installed from the base's own archive, with "
        "no engine: `name` or `name=version` (see [System packages](system-packages.md))",
        'system-packages = ["libpq5", "git"]',
        option="system-package",
        switch_off=True,
    ),
    Setting(
        "system-sources",
        "strings",
        "An apt source for the system packages instead of the base's (repeatable).",
        f"the base's own apt sources; `${SYSTEM_SOURCES_ENV}` (one per line) overrides",
        "one-line sources.list entries (`deb [signed-by=...] URI suite component...`) to take "
        "the system packages from instead of the base's: a mirror, a snapshot",
        'system-sources = ["deb https://mirror.example/debian bookworm main"]',
        option="system-source",
        switch_off=True,
    ),
    Setting(
        "bytecode",
        "string",
        "Bytecode in the image: checked (the default), unchecked or off.",
        "`checked`",
        "the pycs of every Python layer (the dependencies, Poetry, a standard library the base "
        "ships without), compiled by the base's own Python: `checked` or `unchecked` PEP 552 "
        "hash-based pycs, or `off`; the built-in recipe only",
        'bytecode = "unchecked"',
    ),
    Setting(
        "layers",
        "int",
        f"How many layers the dependencies may take (default: {DEFAULT_LAYERS}).",
        f"`{DEFAULT_LAYERS}`",
        f"layers for the dependencies (1 to {MAX_LAYERS}): each package gets its own, the "
        "largest first, while three quarters last; the smallest share the rest (see [The "
        "image](how-it-works.md#the-image))",
        f"layers = {DEFAULT_LAYERS}",
    ),
)
BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}


def configuration_table() -> str:
    """docs/configuration.md's table of keys, in Markdown, made from `SETTINGS`."""
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
