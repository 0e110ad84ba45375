"""Figures 2 and 3: CI pipelines whose dependencies did not change."""

from __future__ import annotations

import time

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from tests.support.registry import manifest_status

from benchmarks import baseline
from benchmarks.bench import alternated
from benchmarks.bench import log
from benchmarks.bench import within_version
from benchmarks.results import Check
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.timing import Ratio
from benchmarks.timing import Samples
from benchmarks.workspace import copy_project


if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from benchmarks.bench import Bench
    from benchmarks.cold import Rounds


def figure2(bench: Bench, rounds: Rounds) -> Figure:
    project = bench.webservice
    push = ("image", "push", *bench.image_args(project))
    if bench.push(project, bench.repository(project)).pushed:
        raise RuntimeError("`poetry image push` did not find the image in the registry: it pushed")
    log("no-change path: `poetry image push` (warm and cold caches) vs `poetry --version`")
    warm_push, cold_push, version = alternated(
        [
            lambda: bench.poetry(bench.plugin, project, *push),
            lambda: bench.poetry_cold(bench.plugin, project, *push),
            lambda: bench.poetry(bench.plugin, project, "--version"),
        ],
        bench.repeats.pairs,
    )
    log("no-change path: baseline rebuild with a warm layer cache")
    warm_build = Samples(
        tuple(
            bench.build_baseline(rounds.baseline_context, rounds.baseline_reference).seconds
            for _ in range(bench.repeats.pairs)
        )
    )
    cold_build = Samples(tuple(run.seconds for run in rounds.baseline))
    figure = Figure(
        2,
        "The no-change CI path: the image is already in the registry (webservice)",
        "Plugin: `poetry image push` (one registry request, no engine), with Poetry's cache "
        "kept from the previous run (where the plugin caches its install plan) and with it "
        "emptied before each run (a fresh CI runner); `poetry --version` of the same Poetry; "
        "the three rotate. Baseline: the recipe rebuilds on every pipeline: `docker build` with "
        "the layer cache of the previous build (same runner), and on a fresh runner (empty "
        "engine) `docker build` + `docker push`, which is figure 1's baseline (same commands, "
        "same state): its runs are reused.",
        [
            Row("plugin: `poetry image push`, Poetry's cache kept", warm_push),
            Row("plugin: `poetry image push`, fresh runner (empty caches)", cold_push),
            Row("`poetry --version`", version),
            Row("baseline: `docker build`, warm layer cache", warm_build),
            Row("baseline: `docker build` + `docker push`, fresh runner (figure 1)", cold_build),
        ],
        [
            *within_version("`poetry image push`", warm_push, cold_push, version),
            Check(
                "`poetry image push` (fresh runner) at least 20x faster than the baseline's "
                "build and push on a fresh runner",
                Ratio.of(cold_build, cold_push),
                20,
                True,
            ),
        ],
    )
    figure.notes.append(
        f"The baseline's rebuild with a warm layer cache ({warm_build.median:.2f} s) is faster "
        f"than the plugin's check ({warm_push.median:.2f} s): with every layer cached, the "
        "classic builder only looks each step up in its cache. It needs a runner whose engine "
        "built the same Dockerfile and lock before; the plugin needs no engine."
    )
    figure.profiles["`poetry image push`, fresh runner (one run under cProfile)"] = bench.profile(
        project, "push-cold", push, fresh=True
    )
    figure.profiles["`poetry image push`, Poetry's cache kept (one run under cProfile)"] = (
        bench.profile(project, "push-warm", push)
    )
    return figure


# --------------------------------------------------------------------------- figure 3


@dataclass
class CommitRuns:
    plugin_builds: list[float] = field(default_factory=list)
    plugin_seconds: list[float] = field(default_factory=list)
    recipe_builds: list[float] = field(default_factory=list)
    recipe_seconds: list[float] = field(default_factory=list)


EDITS_TITLE = "A commit that changes no dependency (webservice)"


def figure3(bench: Bench) -> Figure:
    edits: dict[str, Callable[[Path, int], None]] = {
        "version bump": _bump_version,
        "source edit": _edit_source,
    }
    figure = Figure(
        3,
        EDITS_TITLE,
        "Each run copies the project, edits it as a commit would (bump `version` in "
        "pyproject.toml; or change a module, no dependency), then runs each approach's CI step "
        "with the previous commit's image in the registry. md5 recipe: compute the md5 tag; if "
        "the registry lacks it, `docker build` (the engine still has the previous commit's "
        "layers) and `docker push`. Plugin: `poetry image push` with Poetry's cache kept. A "
        "build is counted when the step built an image.",
        [],
    )
    for name, edit in edits.items():
        log(f"commit that changes no dependency: {name}")
        runs = _commit_runs(bench, edit)
        recipe, plugin = Samples(tuple(runs.recipe_seconds)), Samples(tuple(runs.plugin_seconds))
        figure.rows += [
            Row(f"{name}: image builds, md5 recipe", Samples(tuple(runs.recipe_builds)), ""),
            Row(f"{name}: image builds, plugin", Samples(tuple(runs.plugin_builds)), ""),
            Row(f"{name}: CI step, md5 recipe", recipe),
            Row(f"{name}: CI step, plugin (`poetry image push`)", plugin),
        ]
        figure.notes.append(_commit_note(name, runs, recipe, plugin))
    return figure


def _commit_note(name: str, runs: CommitRuns, recipe: Samples, plugin: Samples) -> str:
    builds = (max(runs.recipe_builds), max(runs.plugin_builds))
    if builds[0] > builds[1]:
        return (
            f"{name}: the md5 recipe builds and pushes a new image of the same dependencies; "
            f"its step takes {recipe.median / plugin.median:.1f}x the plugin's."
        )
    return (
        f"{name}: neither builds; the md5 recipe's step is one registry request "
        f"({recipe.median:.2f} s), the plugin's a Poetry command ({plugin.median:.2f} s)."
    )


def _bump_version(project: Path, run: int) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    old = 'version = "0.1.0"'
    if old not in text:
        raise RuntimeError(f"{pyproject} has no {old}")
    pyproject.write_text(text.replace(old, f'version = "0.1.{run + 1}"', 1), encoding="utf-8")


def _edit_source(project: Path, run: int) -> None:
    package = project / "webservice"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text(f'"""The web service."""\n\nRELEASE = {run + 1}\n')


def _commit_runs(bench: Bench, edit: Callable[[Path, int], None]) -> CommitRuns:
    runs = CommitRuns()
    for run in range(bench.repeats.builds):
        # The copy keeps the project's name, so that the plugin's repository is the same.
        project = copy_project(
            bench.webservice, bench.workspace.root / "commit" / bench.webservice.name
        )
        edit(project, run)
        pushed = bench.push(project, bench.repository(project))
        runs.plugin_seconds.append(pushed.seconds)
        runs.plugin_builds.append(1.0 if pushed.pushed else 0.0)
        seconds, built = _md5_recipe_step(bench, project)
        runs.recipe_seconds.append(seconds)
        runs.recipe_builds.append(1.0 if built else 0.0)
        log(f"  plugin {runs.plugin_seconds[-1]:.1f} s, md5 recipe {seconds:.1f} s")
    return runs


def _md5_recipe_step(bench: Bench, project: Path) -> tuple[float, bool]:
    """The md5 recipe's CI step: build and push when the registry lacks the tag."""
    context = baseline.prepare_context(
        project, bench.workspace.baseline / "commit", bench.poetry_version, bench.base
    )
    started = time.perf_counter()
    repository = bench.baseline_repository(bench.webservice)
    tag = baseline.md5_tag(context)
    if manifest_status(bench.registry_host, repository.split("/", 1)[1], tag) == 200:
        return time.perf_counter() - started, False
    reference = f"{repository}:{tag}"
    bench.build_baseline(context, reference)
    baseline.push(reference, cwd=context, env=bench.env)
    return time.perf_counter() - started, True
