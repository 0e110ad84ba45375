"""`poetry image push`: a no-op when the registry has the image, else build and push."""

from __future__ import annotations

import json

from cleo.helpers import option

from poetry_ci_image.commands.image_command import ImageCommand
from poetry_ci_image.commands.image_command import job_options
from poetry_ci_image.commands.image_command import output_options


class PushCommand(ImageCommand):
    name = "image push"
    description = "Make sure the registry has the image: a no-op when it does, else build and push."
    interrupted = (
        "Interrupted. Nothing was left half-done: the registry's tag is written last, once every "
        "blob it names is there, and the --dotenv and --github-output files after it."
    )
    options = job_options(
        "push",
        *output_options(),
        option(
            "json", None, "Print what the push did as JSON: blobs sent, steps' seconds, layers."
        ),
    )

    def perform(self) -> int:
        from poetry_ci_image.jobs.push_job import push_image
        from poetry_ci_image.jobs.push_job import push_report
        from poetry_ci_image.tag.outputs import write_outputs

        outputs = self.outputs()  # checked before anything is pushed
        run = self.run_context()
        job = self.image_job(run)
        outcome = push_image(job, run)
        write_outputs(outputs, job.resolved.settings.variable, job.resolved.reference)
        if outcome.pushed:
            self.status(f"Pushed {outcome.reference} in {outcome.seconds:.1f} s.")
        if self.option("json"):
            self.out(json.dumps(push_report(outcome, run.timeline), indent=2))
        else:
            self.out(outcome.reference)
        return 0
