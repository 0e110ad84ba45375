"""`poetry image push`: a no-op when the registry has the image, else build and push it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import ClassVar

from poetry_ci_image.commands.image_command import ImageCommand
from poetry_ci_image.commands.image_command import image_options


if TYPE_CHECKING:
    from cleo.io.inputs.option import Option


class PushCommand(ImageCommand):
    name = "image push"
    description = "Make sure the registry has the image: a no-op when it does, else build and push."
    options: ClassVar[list[Option]] = [*ImageCommand.options, *image_options("push")]

    def perform(self) -> int:
        from poetry_ci_image.jobs.push_job import push_image

        run = self.run_context()
        outcome = push_image(self.image_job(run), run)
        if outcome.pushed:
            self.status(f"Pushed {outcome.reference} in {outcome.seconds:.1f} s.")
        self.out(outcome.reference)
        return 0
