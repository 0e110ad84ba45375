"""The work of `poetry image tag` beyond resolving: record the reference where the pipeline reads
it (the tag-file, a dotenv file, $GITHUB_OUTPUT), or check that it is recorded, or that the
registry has it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poetry_ci_image.tag.outputs import write_outputs
from poetry_ci_image.tag.tagfile import check_tag_file
from poetry_ci_image.tag.tagfile import write_reference


if TYPE_CHECKING:
    from poetry_ci_image.run import Run
    from poetry_ci_image.tag.outputs import Outputs
    from poetry_ci_image.tag.resolve import Resolved
    from poetry_ci_image.tag.tagfile import TagFileCheck


def record(resolved: Resolved, outputs: Outputs) -> bool | None:
    """Write the reference to the tag-file (when one is configured) and the outputs; whether
    the tag-file changed (None: there is none)."""
    settings = resolved.settings
    reference = resolved.reference
    changed = None
    if settings.tag_file is not None:
        changed = write_reference(settings.tag_file, settings.variable, str(reference))
    write_outputs(outputs, settings.variable, reference)
    return changed


def hand_on(resolved: Resolved, outputs: Outputs) -> None:
    """Write the reference to the outputs only (a check that passed: the tag-file is left as
    it is)."""
    write_outputs(outputs, resolved.settings.variable, resolved.reference)


def check_recorded(resolved: Resolved) -> TagFileCheck:
    """Whether the tag-file records the reference (a ConfigError when none is configured)."""
    settings = resolved.settings
    return check_tag_file(
        settings.require_tag_file(),
        settings.variable,
        str(resolved.reference),
        settings.project_dir,
    )


def in_registry(resolved: Resolved, run: Run) -> bool:
    """Whether the registry has the reference (one request)."""
    reference = resolved.reference
    registry = run.registries.open(reference.registry)
    return registry.manifest_digest(reference.path, str(reference.tag)) is not None
