"""One pass from the project to the image reference, in one direction.

    pyproject + options + environment -> Settings -> Target
    lock + Target + groups/extras     -> InstallPlan
    InstallPlan + Target + recipe     -> Fingerprint -> reference

Every command starts here; nothing after it recomputes any of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image import poetry_adapter
from poetry_ci_image.fingerprint import fingerprint
from poetry_ci_image.recipe import image_recipe
from poetry_ci_image.reference import parse_repository
from poetry_ci_image.settings import resolve_settings
from poetry_ci_image.target import resolve_target


if TYPE_CHECKING:
    from collections.abc import Mapping

    from poetry.poetry import Poetry

    from poetry_ci_image.fingerprint import Fingerprint
    from poetry_ci_image.fingerprint import ImageRecipe
    from poetry_ci_image.plan import InstallPlan
    from poetry_ci_image.reference import ImageReference
    from poetry_ci_image.settings import Options
    from poetry_ci_image.settings import Settings
    from poetry_ci_image.target import Target


@dataclass(frozen=True)
class Resolved:
    settings: Settings
    target: Target
    plan: InstallPlan
    recipe: ImageRecipe
    fingerprint: Fingerprint
    poetry_version: str

    @property
    def reference(self) -> ImageReference:
        """`<repository>:<tag>`; a ConfigError when no repository is configured."""
        repository = parse_repository(self.settings.require_repository())
        return repository.with_tag(self.fingerprint.tag)


def resolve(poetry: Poetry, options: Options, env: Mapping[str, str]) -> Resolved:
    facts = poetry_adapter.project_facts(poetry)
    settings = resolve_settings(facts.table, options, env, facts.root)
    if settings.repository is not None:
        parse_repository(settings.repository)  # a bad name fails before any work
    target, base = resolve_target(
        python=settings.python,
        platform=settings.platform,
        libc=settings.libc,
        base=settings.base,
        allowed_minors=facts.allowed_minors,
        python_constraint=facts.python_constraint,
    )
    plan = poetry_adapter.plan_install(poetry, target, settings.selection)
    recipe = image_recipe(settings, base, facts.poetry_version)
    return Resolved(
        settings=settings,
        target=target,
        plan=plan,
        recipe=recipe,
        fingerprint=fingerprint(plan, target, recipe),
        poetry_version=facts.poetry_version,
    )
