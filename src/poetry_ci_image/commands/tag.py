"""`poetry image tag`: the reference, recorded in the tag-file; or checked against it."""

from __future__ import annotations

import json
import os

from typing import TYPE_CHECKING
from typing import ClassVar

from cleo.helpers import option

from poetry_ci_image.commands.image_command import ImageCommand
from poetry_ci_image.commands.image_command import output_options
from poetry_ci_image.errors import ConfigError


if TYPE_CHECKING:
    from cleo.io.inputs.option import Option

    from poetry_ci_image.run import Run
    from poetry_ci_image.tag.resolve import Resolved


class TagCommand(ImageCommand):
    name = "image tag"
    description = "Print the image reference whose tag fingerprints the locked dependencies."
    interrupted = "Interrupted. Nothing was left half-done: the tag-file is written in one step."
    options: ClassVar[list[Option]] = [
        *ImageCommand.options,
        option("json", None, "Print the reference, the fingerprint and its inputs as JSON."),
        option(
            "check", None, "Exit 1 unless the tag-file records this reference (leaves it as it is)."
        ),
        option("remote", None, "Exit 1 unless the registry has this reference (no engine needed)."),
        *output_options(),
    ]
    help = """\
The <info>image tag</> command prints <comment><repository>:<tag></>, where the tag is a
fingerprint of what <info>poetry install</> would put into the image for the target.
With <comment>tag-file</> configured it also records the reference there.

<info>--check</>   exit 0 when the tag-file records this reference, 1 when not (git pre-push hook).
<info>--remote</>  exit 0 when the registry has this reference, 1 when not.
With either, <info>--dotenv</> and <info>--github-output</> are written only on exit 0.
Errors exit 2.
"""

    def perform(self) -> int:
        from poetry_ci_image.jobs import tag_job
        from poetry_ci_image.tag.describe import describe
        from poetry_ci_image.tag.describe import sdist_warnings

        checks = [name for name in ("check", "remote") if self.option(name)]
        if checks and self.option("json"):
            raise ConfigError(
                f"--json and --{checks[0]} are both given: --json prints what the tag is made "
                f"of, --{checks[0]} answers yes or no.",
                "Give one of them.",
            )
        outputs = self.outputs()
        run = self.run_context()
        resolved = self.resolve(run)
        if checks:
            status = self._check(resolved, run)
            if status == 0:  # the reference is good: a job can hand it on
                tag_job.hand_on(resolved, outputs)
            return status
        if self.option("json"):
            self.out(json.dumps(describe(resolved), indent=2))
            return 0
        for warning in sdist_warnings(resolved):
            self.status(warning)
        changed = tag_job.record(resolved, outputs)
        if changed is not None:
            assert resolved.settings.tag_file is not None
            name = os.path.relpath(resolved.settings.tag_file, resolved.settings.project_dir)
            self.status(f"{'Wrote' if changed else 'Unchanged:'} {name}")
        self.out(str(resolved.reference))
        return 0

    def _check(self, resolved: Resolved, run: Run) -> int:
        from poetry_ci_image.jobs import tag_job

        reference = resolved.reference
        if self.option("check"):
            check = tag_job.check_recorded(resolved)
            if not check.current:
                self.status(check.describe())
                self.status(check.hint)
                return 1
            self.status(f"{check.name} is up to date.")
        if self.option("remote"):
            if not tag_job.in_registry(resolved, run):
                self.status(f"{reference} is not in the registry.")
                self.status("Run `poetry image push` to build and push it.")
                return 1
            self.status(f"{reference} is in the registry.")
        self.out(str(reference))
        return 0
