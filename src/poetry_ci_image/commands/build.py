"""`poetry image build`: the image of the lock, for the local engine or an OCI layout."""

from __future__ import annotations

import os

from typing import TYPE_CHECKING
from typing import ClassVar

from cleo.helpers import option

from poetry_ci_image.commands.base import ImageCommand


if TYPE_CHECKING:
    from cleo.io.inputs.option import Option


class BuildCommand(ImageCommand):
    name = "image build"
    description = "Build the image holding the locked dependencies, for the local Docker engine."
    options: ClassVar[list[Option]] = [
        *ImageCommand.options,
        option(
            "tag",
            None,
            "Also tag the image with this tag (e.g. latest).",
            flag=False,
            multiple=True,
        ),
        option("force", None, "Build even if the engine has the image already."),
    ]

    def perform(self) -> int:
        from poetry_ci_image.build import build_image
        from poetry_ci_image.engine import DockerEngine

        project = self.project()
        resolved = self.resolve(project)
        outcome = build_image(
            project,
            resolved,
            DockerEngine(os.environ),
            self,
            os.environ,
            extra_tags=tuple(self.option("tag") or ()),
            force=bool(self.option("force")),
        )
        if outcome.built:
            self.status(f"Built {outcome.reference} in {outcome.seconds:.1f} s.")
        self.out(outcome.reference)
        return 0
