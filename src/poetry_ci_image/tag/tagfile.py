"""The tag-file: where `poetry image tag` records the image reference for CI to use.

Two formats, chosen by the file name:

- `.env` (or any name ending in `.env`): a `KEY=reference` line. Other lines are kept.
- `.yml` / `.yaml`: a GitLab CI `variables:` file for `include: local:`. The plugin owns it.

Writes are atomic (a temporary file renamed over the old one) and skipped when nothing changes.
"""

from __future__ import annotations

import os
import re

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import TagFileError
from poetry_ci_image.plumbing.atomic import write_atomically


if TYPE_CHECKING:
    from pathlib import Path


YAML_HEADER = (
    "# Written by `poetry image tag` (poetry-ci-image). Do not edit: run `poetry image tag`.\n"
)


def file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".yml", ".yaml")):
        return "yaml"
    if name.endswith(".env"):
        return "env"
    raise TagFileError(
        f"tag-file {path.name} has an unknown format.",
        "Name it *.env (a KEY=reference line) or *.yml (a GitLab CI variables file).",
    )


def read_reference(path: Path, variable: str) -> str | None:
    """The reference recorded in the tag-file, or None if the file or the variable is missing."""
    fmt = file_format(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise TagFileError(f"tag-file {path} cannot be read: {error}") from None
    pattern = _env_line(variable) if fmt == "env" else _yaml_line(variable)
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            return _unquote(match["value"].strip())
    return None


def render(path: Path, variable: str, reference: str) -> str:
    """The new content of the tag-file recording `reference`."""
    if file_format(path) == "yaml":
        return f'{YAML_HEADER}variables:\n  {variable}: "{reference}"\n'
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    except OSError as error:
        raise TagFileError(f"tag-file {path} cannot be read: {error}") from None
    pattern = _env_line(variable)
    new_line = f"{variable}={reference}"
    replaced = False
    out: list[str] = []
    for line in lines:
        if pattern.match(line):
            if not replaced:
                out.append(new_line)
                replaced = True
            continue
        out.append(line)
    if not replaced:
        out.append(new_line)
    return "\n".join(out) + "\n"


def write_reference(path: Path, variable: str, reference: str) -> bool:
    """Record `reference`; return False (and touch nothing) when the file already says so."""
    content = render(path, variable, reference)
    try:
        if path.read_text(encoding="utf-8") == content:
            return False
    except FileNotFoundError:
        pass
    except OSError as error:
        raise TagFileError(f"tag-file {path} cannot be read: {error}") from None
    try:
        write_atomically(path, content)
    except OSError as error:
        raise TagFileError(
            f"tag-file {path} cannot be written: {error}", "Check the path and its permissions."
        ) from None
    return True


def _env_line(variable: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*(?:export\s+)?{re.escape(variable)}\s*=(?P<value>.*)$")


def _yaml_line(variable: str) -> re.Pattern[str]:
    return re.compile(rf"^\s+{re.escape(variable)}\s*:(?P<value>.*)$")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


@dataclass(frozen=True)
class TagFileCheck:
    """What the tag-file records against what the lock gives: the one check `tag --check` and
    `push` make, in the same words."""

    name: str  # the tag-file, relative to the project
    variable: str
    recorded: str | None
    computed: str
    exists: bool = True  # whether the tag-file is there at all

    @property
    def current(self) -> bool:
        return self.recorded == self.computed

    def describe(self) -> str:
        if not self.exists:
            return f"{self.name} does not exist.\n  computed: {self.computed}"
        if self.recorded is None:
            recorded = f"nothing (no {self.variable} in it)"
        else:
            recorded = self.recorded or f"nothing ({self.variable} is empty)"
        return f"{self.name} is out of date.\n  recorded: {recorded}\n  computed: {self.computed}"

    @property
    def hint(self) -> str:
        return f"Run `poetry image tag` and commit {self.name}."


def check_tag_file(path: Path, variable: str, computed: str, project_dir: Path) -> TagFileCheck:
    name = os.path.relpath(path, project_dir).replace(os.sep, "/")
    return TagFileCheck(
        name, variable, read_reference(path, variable), computed, exists=path.is_file()
    )
