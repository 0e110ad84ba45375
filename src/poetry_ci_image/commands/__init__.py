"""The `poetry image ...` commands: each reads its options, calls the work, and prints.

stdout carries the result only (the image reference, or JSON); everything else goes to stderr.
`image_command.ImageCommand.handle` is the one place that turns errors into output and exit codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from poetry_ci_image.commands.build import BuildCommand
from poetry_ci_image.commands.dockerfile import DockerfileCommand
from poetry_ci_image.commands.push import PushCommand
from poetry_ci_image.commands.tag import TagCommand


if TYPE_CHECKING:
    from poetry_ci_image.commands.image_command import ImageCommand


__all__ = ["COMMANDS", "BuildCommand", "DockerfileCommand", "PushCommand", "TagCommand"]

COMMANDS: dict[str, type[ImageCommand]] = {
    command.name: command for command in (TagCommand, BuildCommand, PushCommand, DockerfileCommand)
}
