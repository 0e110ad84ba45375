"""`poetry image dockerfile`: a Dockerfile to start your own from."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import ClassVar

from cleo.helpers import option

from poetry_ci_image.commands.image_command import ImageCommand


if TYPE_CHECKING:
    from cleo.io.inputs.option import Option


class DockerfileCommand(ImageCommand):
    name = "image dockerfile"
    description = "Print a Dockerfile to start your own from (for `dockerfile` in the table)."
    help = """\
The <info>image dockerfile</> command prints a Dockerfile that makes what the built-in recipe
makes, from the build context your own Dockerfile is given: add your system packages to it,
save it (e.g. as ci/Dockerfile) and set <comment>dockerfile = "ci/Dockerfile"</>. The Docker
engine then builds it.
"""
    options: ClassVar[list[Option]] = [
        option("no-poetry", None, "The variant that leaves Poetry out (the default has it)."),
    ]

    def perform(self) -> int:
        from poetry_ci_image.engine.dockerfile import starter_dockerfile

        self.out(starter_dockerfile(with_poetry=not self.option("no-poetry")).rstrip("\n"))
        return 0
