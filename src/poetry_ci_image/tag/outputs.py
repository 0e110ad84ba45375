"""Other places a CI pipeline reads the reference from: a dotenv file, `$GITHUB_OUTPUT`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.errors import TagFileError
from poetry_ci_image.plumbing.atomic import write_atomically


if TYPE_CHECKING:
    from collections.abc import Mapping

    from poetry_ci_image.reference import ImageReference


def write_dotenv(path: str, variable: str, reference: str) -> None:
    """A dotenv file holding only `VARIABLE=reference` (a GitLab `artifacts:reports:dotenv`)."""
    write_atomically(Path(path), f"{variable}={reference}\n")


def write_github_output(env: Mapping[str, str], reference: ImageReference) -> None:
    """Append `image=` and `tag=` to the step's output file, as GitHub Actions reads it."""
    output = env.get("GITHUB_OUTPUT")
    if not output:
        raise ConfigError(
            "--github-output is given but GITHUB_OUTPUT is not set.",
            "Use --github-output in a GitHub Actions step only.",
        )
    try:
        with Path(output).open("a", encoding="utf-8") as stream:
            stream.write(f"image={reference}\ntag={reference.tag}\n")
    except OSError as error:
        raise TagFileError(f"GITHUB_OUTPUT ({output}) cannot be written: {error}") from None
