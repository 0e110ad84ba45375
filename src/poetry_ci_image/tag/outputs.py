"""Other places a CI pipeline reads the reference from: a dotenv file, `$GITHUB_OUTPUT`.

`check_outputs` is called before any work (a push must not happen when its reference cannot be
handed on); `write_outputs` after it, each file written in one step.
"""

from __future__ import annotations

import os
import tempfile

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.errors import TagFileError
from poetry_ci_image.plumbing.atomic import write_atomically


if TYPE_CHECKING:
    from collections.abc import Mapping

    from poetry_ci_image.reference import ImageReference


@dataclass(frozen=True)
class Outputs:
    """Where the command hands the reference on, as its options say."""

    dotenv: Path | None = None  # `--dotenv FILE`: VARIABLE=reference
    github_output: Path | None = None  # `--github-output`: $GITHUB_OUTPUT, appended to


def check_outputs(dotenv: str | None, github_output: bool, env: Mapping[str, str]) -> Outputs:
    """The outputs asked for, each checked writable now: an error before any work."""
    github = None
    if github_output:
        named = env.get("GITHUB_OUTPUT")
        if not named:
            raise ConfigError(
                "--github-output is given but GITHUB_OUTPUT is not set.",
                "Use --github-output in a GitHub Actions step only.",
            )
        github = Path(named)
        _check_writable(github, "GITHUB_OUTPUT", append=True)
    path = None
    if dotenv is not None:
        if not dotenv.strip():
            raise ConfigError("--dotenv was given an empty value.", "Name a file, e.g. ci.env.")
        path = Path(dotenv)
        _check_writable(path, f"--dotenv {dotenv}", append=False)
    return Outputs(path, github)


def write_outputs(outputs: Outputs, variable: str, reference: ImageReference) -> None:
    if outputs.dotenv is not None:
        write_dotenv(outputs.dotenv, variable, str(reference))
    if outputs.github_output is not None:
        write_github_output(outputs.github_output, reference)


def write_dotenv(path: Path, variable: str, reference: str) -> None:
    """A dotenv file holding only `VARIABLE=reference` (a GitLab `artifacts:reports:dotenv`)."""
    try:
        write_atomically(path, f"{variable}={reference}\n")
    except OSError as error:
        raise TagFileError(f"{path} cannot be written: {error}", _HINT) from None


def write_github_output(path: Path, reference: ImageReference) -> None:
    """Append `image=` and `tag=` to the step's output file, as GitHub Actions reads it."""
    try:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(f"image={reference}\ntag={reference.tag}\n")
    except OSError as error:
        raise TagFileError(f"GITHUB_OUTPUT ({path}) cannot be written: {error}") from None


_HINT = "Check the path and its permissions."


def _check_writable(path: Path, what: str, *, append: bool) -> None:
    """Whether `path` can be written (appended to), trying it without changing anything."""
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(path))
        if append and path.exists():
            with path.open("a", encoding="utf-8"):
                pass
            return
        directory = path.parent
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise TagFileError(
            f"{what} cannot be written: {error.strerror or error}"
            + (f": {error.filename}" if error.filename else ""),
            f"{_HINT} Nothing was done.",
        ) from None
