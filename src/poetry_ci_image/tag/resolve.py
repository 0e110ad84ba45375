"""One pass from the project to the image reference, in one direction.

    pyproject + options + environment  -> Settings -> a Target per platform
    lock + Target + groups/extras      -> InstallPlan (per platform)
    InstallPlans + Targets + recipe    -> Fingerprint -> reference

Every command starts here; nothing after it recomputes any of these. The project facts and the
plans come from the plan cache when their inputs have not changed (see plan_cache.py); Poetry
itself is only loaded on a miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.poetry.boundary import running_poetry_version
from poetry_ci_image.poetry.project import ProjectFacts
from poetry_ci_image.poetry.project import global_config_file
from poetry_ci_image.poetry.wheels import poetry_pins
from poetry_ci_image.reference import parse_image
from poetry_ci_image.reference import parse_repository
from poetry_ci_image.settings.merge import resolve_settings
from poetry_ci_image.settings.target import DEFAULT_PLATFORM
from poetry_ci_image.settings.target import resolve_target
from poetry_ci_image.tag.fingerprint import fingerprint
from poetry_ci_image.tag.plan import TargetPlan
from poetry_ci_image.tag.plan_cache import CachedFacts
from poetry_ci_image.tag.plan_cache import PlanCache
from poetry_ci_image.tag.plan_cache import read_inputs
from poetry_ci_image.tag.recipe import image_recipe


if TYPE_CHECKING:
    from collections.abc import Mapping

    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.reference import ImageReference
    from poetry_ci_image.settings.merge import Options
    from poetry_ci_image.settings.merge import Settings
    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.fingerprint import Fingerprint
    from poetry_ci_image.tag.plan import InstallPlan
    from poetry_ci_image.tag.plan_cache import ProjectInputs
    from poetry_ci_image.tag.recipe import ImageRecipe


@dataclass(frozen=True)
class Resolved:
    settings: Settings
    project_name: str | None
    platforms: tuple[TargetPlan, ...]
    recipe: ImageRecipe
    fingerprint: Fingerprint
    base: ImageReference  # the base image, parsed once
    image: ImageReference | None  # `<repository>:<tag>`; None when no repository is configured

    @property
    def target(self) -> Target:
        """The first platform's target (the only one, but for multi-platform images)."""
        return self.platforms[0].target

    @property
    def plan(self) -> InstallPlan:
        return self.platforms[0].plan

    @property
    def reference(self) -> ImageReference:
        """`<repository>:<tag>`; a ConfigError when no repository is configured."""
        self.settings.require_repository()  # raises, saying what to configure, when none is
        assert self.image is not None
        return self.image


def resolve(
    project: Project, options: Options, env: Mapping[str, str], cache: PlanCache | None = None
) -> Resolved:
    cache = cache or PlanCache(None)
    inputs = read_inputs(project.root, global_config_file(), running_poetry_version(), env)
    facts = _facts(project, inputs, cache)
    settings = resolve_settings(facts.table, options, env, facts.root)
    # A bad name fails before any work.
    repository = None if settings.repository is None else parse_repository(settings.repository)
    platforms = settings.platforms or (DEFAULT_PLATFORM,)
    if len(platforms) > 1 and settings.dockerfile is not None:
        raise ConfigError(
            f"Several platforms ({', '.join(platforms)}) need the built-in recipe; your own "
            "Dockerfile is built by the engine, for the engine's platform.",
            "Choose one platform, or remove dockerfile from [tool.poetry-ci-image].",
        )
    planned: list[TargetPlan] = []
    base = ""
    for platform in platforms:
        target, base = resolve_target(
            python=settings.python,
            platform=platform,
            libc=settings.libc,
            base=settings.base,
            allowed_minors=facts.allowed_minors,
            python_constraint=facts.python_constraint,
            poetry_in_image=settings.poetry_in_image,
        )
        plan = cache.plan(inputs, target, settings.selection) if inputs.lock else None
        if plan is None:
            from poetry_ci_image.poetry.planner import plan_install

            plan = plan_install(project.poetry, target, settings.selection)
            cache.store_plan(inputs, target, settings.selection, plan)
        planned.append(TargetPlan(target, plan))
    base_image = parse_image(base)  # a bad base fails here, not halfway through a build
    recipe = image_recipe(settings, base, facts.poetry_version, env)
    musl = [p.target.platform for p in planned if p.target.libc.family == "musl"]
    if recipe.system_packages and musl:
        raise ConfigError(
            f"system-packages installs Debian packages, and the target is a musl (Alpine) "
            f"system ({', '.join(musl)}).",
            "Use a Debian or Ubuntu base (for example python:3.12-slim), or your own Dockerfile "
            "that runs `apk add`.",
        )
    # Poetry's pinned set per platform (a target the running Poetry does not run on is
    # refused here, offline, rather than in `push`).
    poetry_sets = [poetry_pins(p.target) if recipe.poetry_version else None for p in planned]
    fingerprinted = fingerprint([(p.target, p.plan) for p in planned], recipe, poetry_sets)
    return Resolved(
        settings=settings,
        project_name=facts.name,
        platforms=tuple(planned),
        recipe=recipe,
        fingerprint=fingerprinted,
        base=base_image,
        image=None if repository is None else repository.with_tag(fingerprinted.tag),
    )


def _facts(project: Project, inputs: ProjectInputs, cache: PlanCache) -> ProjectFacts:
    cached = cache.facts(inputs)
    if cached is None:
        from poetry_ci_image.poetry.project import project_facts

        facts = project_facts(project.poetry)
        cache.store_facts(
            inputs,
            CachedFacts(
                dict(facts.table), facts.python_constraint, facts.allowed_minors, facts.name
            ),
        )
        return facts
    return ProjectFacts(
        root=project.root,
        table=cached.table,
        python_constraint=cached.python_constraint,
        allowed_minors=cached.allowed_minors,
        poetry_version=inputs.poetry_version,
        name=cached.name,
    )
