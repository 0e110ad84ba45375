"""`poetry image tag`: the reference, recorded in the tag-file; or checked against it."""

from __future__ import annotations

import json
import os

from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from cleo.helpers import option

from poetry_ci_image.commands.image_command import ImageCommand
from poetry_ci_image.commands.image_command import output_options


if TYPE_CHECKING:
    from cleo.io.inputs.option import Option

    from poetry_ci_image.run import Run
    from poetry_ci_image.tag.outputs import Outputs
    from poetry_ci_image.tag.resolve import Resolved


class TagCommand(ImageCommand):
    name = "image tag"
    description = "Print the image reference whose tag fingerprints the locked dependencies."
    options: ClassVar[list[Option]] = [
        *ImageCommand.options,
        option("json", None, "Print the reference, the fingerprint and its inputs as JSON."),
        option(
            "check", None, "Exit 1 unless the tag-file records this reference (writes nothing)."
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
Errors exit 2.
"""

    def perform(self) -> int:
        outputs = self.outputs()
        run = self.run_context()
        resolved = self.resolve(run)
        if self.option("check") or self.option("remote"):
            return self._check(resolved, run)
        if self.option("json"):
            self.out(json.dumps(describe(resolved), indent=2))
            return 0
        self._warn_of_sdists(resolved)
        self._record(resolved, outputs)
        self.out(str(resolved.reference))
        return 0

    def _warn_of_sdists(self, resolved: Resolved) -> None:
        """Say now what `push` would meet in CI: a package without a wheel for the target."""
        from poetry_ci_image.tag.plan import built_on_the_host

        if not resolved.recipe.builtin:
            return  # your own Dockerfile builds sdists in the image
        for platform in resolved.platforms:
            for package in built_on_the_host(platform.plan):
                assert package.distribution is not None
                self.status(
                    f"Warning: {package.name} {package.version} has no wheel for "
                    f"{platform.target.describe()}: `poetry image push` builds one from its "
                    f"sdist ({package.distribution.filename}) on the host, which works for "
                    "pure-Python code only. If it compiles code, use a version (or an index) "
                    "with a wheel for the target, or your own Dockerfile."
                )

    def _record(self, resolved: Resolved, outputs: Outputs) -> None:
        from poetry_ci_image.tag.outputs import write_outputs
        from poetry_ci_image.tag.tagfile import write_reference

        settings = resolved.settings
        reference = resolved.reference
        if settings.tag_file is not None:
            changed = write_reference(settings.tag_file, settings.variable, str(reference))
            name = os.path.relpath(settings.tag_file, settings.project_dir)
            self.status(f"{'Wrote' if changed else 'Unchanged:'} {name}")
        write_outputs(outputs, settings.variable, reference)

    def _check(self, resolved: Resolved, run: Run) -> int:
        from poetry_ci_image.tag.tagfile import check_tag_file

        reference = resolved.reference
        settings = resolved.settings
        if self.option("check"):
            check = check_tag_file(
                settings.require_tag_file(), settings.variable, str(reference), settings.project_dir
            )
            if not check.current:
                self.status(check.describe())
                self.status(check.hint)
                return 1
            self.status(f"{check.name} is up to date.")
        if self.option("remote"):
            registry = run.registries.open(reference.registry)
            if registry.manifest_digest(reference.path, str(reference.tag)) is None:
                self.status(f"{reference} is not in the registry.")
                self.status("Run `poetry image push` to build and push it.")
                return 1
            self.status(f"{reference} is in the registry.")
        self.out(str(reference))
        return 0


def describe(resolved: Resolved) -> dict[str, Any]:
    """`tag --json`: the reference, the fingerprint, and every input of it, per platform."""
    from poetry_ci_image.tag.fingerprint import SCHEMA_VERSION

    settings = resolved.settings
    reference = str(resolved.image) if resolved.image else None
    return {
        "reference": reference,
        "repository": settings.repository,
        "tag": resolved.fingerprint.tag,
        "fingerprint": resolved.fingerprint.digest,
        "schema": SCHEMA_VERSION,
        "image": resolved.recipe.as_dict(),
        "groups": list(resolved.plan.groups),
        "extras": list(resolved.plan.extras),
        "platforms": [
            {
                "target": platform.target.as_dict(),
                "packages": [package.as_dict() for package in platform.plan.packages],
                "not_in_image": {"directory_dependencies": list(platform.plan.directories)},
            }
            for platform in resolved.platforms
        ],
    }
