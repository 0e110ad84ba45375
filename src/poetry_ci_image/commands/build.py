"""`poetry image build`: the image of the lock, for the local engine or an OCI image layout."""

from __future__ import annotations

from pathlib import Path

from cleo.helpers import option

from poetry_ci_image.commands.image_command import ImageCommand
from poetry_ci_image.commands.image_command import job_options


class BuildCommand(ImageCommand):
    name = "image build"
    description = "Build the image of the locked dependencies: into the engine, or a directory."
    interrupted = (
        "Interrupted. Nothing was left half-done: the image goes into the engine, or the --output "
        "directory, in one step, last."
    )
    options = job_options(
        "build",
        option("output", "o", "Write an OCI image layout to this directory instead.", flag=False),
    )

    def perform(self) -> int:
        from poetry_ci_image.jobs.build_job import build_image

        run = self.run_context()
        output = self.option("output")
        outcome = build_image(self.image_job(run), run, Path(output) if output else None)
        if outcome.built:
            where = f" to {output}" if output else ""
            self.status(f"Built {outcome.reference}{where} in {outcome.seconds:.1f} s.")
        self.out(outcome.reference)
        return 0
