"""One pass from the project to the image reference, in one direction.

    pyproject + options + environment -> Settings -> Target
    lock + Target + groups/extras     -> InstallPlan
    InstallPlan + Target + recipe     -> Fingerprint -> reference

Every command starts here; nothing after it recomputes any of these. The project facts and the
plan come from the plan cache when their inputs have not changed (see plan_cache.py); Poetry
itself is only loaded on a miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.fingerprint import fingerprint
from poetry_ci_image.plan_cache import CachedFacts
from poetry_ci_image.plan_cache import PlanCache
from poetry_ci_image.plan_cache import read_inputs
from poetry_ci_image.poetry.boundary import running_poetry_version
from poetry_ci_image.poetry.project import ProjectFacts
from poetry_ci_image.poetry.project import global_config_file
from poetry_ci_image.recipe import image_recipe
from poetry_ci_image.reference import parse_repository
from poetry_ci_image.settings import resolve_settings
from poetry_ci_image.target import resolve_target


if TYPE_CHECKING:
    from collections.abc import Mapping

    from poetry_ci_image.fingerprint import Fingerprint
    from poetry_ci_image.fingerprint import ImageRecipe
    from poetry_ci_image.plan import InstallPlan
    from poetry_ci_image.plan_cache import ProjectInputs
    from poetry_ci_image.poetry.project import Project
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

    @property
    def reference(self) -> ImageReference:
        """`<repository>:<tag>`; a ConfigError when no repository is configured."""
        repository = parse_repository(self.settings.require_repository())
        return repository.with_tag(self.fingerprint.tag)


def resolve(
    project: Project, options: Options, env: Mapping[str, str], cache: PlanCache | None = None
) -> Resolved:
    cache = cache or PlanCache(None)
    inputs = read_inputs(project.root, global_config_file(), running_poetry_version(), env)
    facts = _facts(project, inputs, cache)
    settings = resolve_settings(facts.table, options, env, facts.root)
    if settings.repository is not None:
        parse_repository(settings.repository)  # a bad name fails before any work
    if len(settings.platforms) > 1:
        raise ConfigError("Several platforms are not supported yet.")
    target, base = resolve_target(
        python=settings.python,
        platform=settings.platforms[0] if settings.platforms else None,
        libc=settings.libc,
        base=settings.base,
        allowed_minors=facts.allowed_minors,
        python_constraint=facts.python_constraint,
    )
    plan = cache.plan(inputs, target, settings.selection) if inputs.lock else None
    if plan is None:
        from poetry_ci_image.poetry.planner import plan_install

        plan = plan_install(project.poetry, target, settings.selection)
        cache.store_plan(inputs, target, settings.selection, plan)
    recipe = image_recipe(settings, base, facts.poetry_version)
    return Resolved(
        settings=settings,
        target=target,
        plan=plan,
        recipe=recipe,
        fingerprint=fingerprint(plan, target, recipe),
    )


def _facts(project: Project, inputs: ProjectInputs, cache: PlanCache) -> ProjectFacts:
    cached = cache.facts(inputs)
    if cached is None:
        from poetry_ci_image.poetry.project import project_facts

        facts = project_facts(project.poetry)
        cache.store_facts(
            inputs, CachedFacts(dict(facts.table), facts.python_constraint, facts.allowed_minors)
        )
        return facts
    return ProjectFacts(
        root=project.root,
        table=cached.table,
        python_constraint=cached.python_constraint,
        allowed_minors=cached.allowed_minors,
        poetry_version=inputs.poetry_version,
    )
