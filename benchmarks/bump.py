"""Figure 8: a one-package bump, with the previous commit's image in the registry.

A Renovate-style commit: one package's version changes in poetry.lock. The committed lock is
the bumped one; the previous commit's lock is made from it by Poetry (`poetry lock` with that
package pinned to its previous release, then the pin taken out again and content-hash
recomputed), and must differ from it in that package only.

Each round gives both approaches the state a CI runner has after the previous pipeline:

- plugin: Poetry's cache as the previous commit's push left it (a copy, restored), and the
  previous image in the repository; then `poetry image push` of the bump;
- baseline: the engine with the layers of the previous commit's build (its best case: the steps
  before `COPY pyproject.toml poetry.lock` are cached), the previous image in the repository;
  then `docker build` + `docker push` of the bump. Its build of the bump is removed afterwards,
  so that the next round starts from the previous build's layers again.

Bytes: what each push uploaded (the new manifest's blobs the repository lacked), against the
layer that holds the bumped package, as the bump's `push --json` reports it. What a runner
pulls is measured with real pulls, for every package of the lock: figure 11 (pulls.py).
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import tomlkit

from benchmarks import baseline
from benchmarks.bench import log
from benchmarks.bench import rotated
from benchmarks.cold import MB
from benchmarks.cold import BaselineRun
from benchmarks.cold import baseline_parts
from benchmarks.cold import median_parts
from benchmarks.cold import seconds
from benchmarks.cold import uploaded
from benchmarks.engine import pushed
from benchmarks.history import holding
from benchmarks.results import Check
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.results import Sides
from benchmarks.timing import Ratio
from benchmarks.timing import Samples
from benchmarks.timing import run
from benchmarks.workspace import copy_project
from benchmarks.workspace import read_lock
from benchmarks.workspace import rehash


if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from benchmarks.bench import Bench
    from benchmarks.push_record import PushLog
    from benchmarks.workspace import PoetryVenv
    from benchmarks.workspace import Workspace


@dataclass(frozen=True)
class Bump:
    package: str
    previous: str  # the version the previous commit locks; the committed lock has the new one
    why: str  # why this bump is in the benchmark


BUMPS = (
    Bump(
        "sqlalchemy",
        "2.1.8",
        "a patch release of a direct dependency with compiled code",
    ),
    Bump(
        "fastapi",
        "0.164.0",
        "a minor release of a small pure-Python direct dependency",
    ),
)


@dataclass(frozen=True)
class BumpProject:
    bump: Bump
    previous: Path  # the working copy with the previous commit's lock
    version: str  # the bumped version (the committed lock's)


def prepare_bumps(
    workspace: Workspace,
    project: Path,
    poetry: PoetryVenv,
    env: dict[str, str],
    bumps: tuple[Bump, ...] = BUMPS,
) -> list[BumpProject]:
    """The previous commit of each of `bumps`: a working copy of `project`, locked by Poetry."""
    return [_previous_commit(workspace, project, poetry, env, bump) for bump in bumps]


def _previous_commit(
    workspace: Workspace, project: Path, poetry: PoetryVenv, env: dict[str, str], bump: Bump
) -> BumpProject:
    copy = copy_project(project, workspace.projects / f"{project.name}-before-{bump.package}")
    pyproject = copy / "pyproject.toml"
    original = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(_pinned(original, bump), encoding="utf-8")
    run([str(poetry.poetry), "--no-ansi", "--no-plugins", "lock"], cwd=copy, env=env)
    pyproject.write_text(original, encoding="utf-8")
    rehash(copy, poetry)
    before, after = _versions(copy), _versions(project)
    changed = sorted(before ^ after)
    expected = sorted(
        {(bump.package, bump.previous)} | {item for item in after if item[0] == bump.package}
    )
    if changed != expected:
        raise SystemExit(
            f"locking {bump.package} at {bump.previous} changed more than that package: {changed}"
        )
    new = next(version for name, version in after if name == bump.package)
    return BumpProject(bump, copy, new)


def _pinned(pyproject: str, bump: Bump) -> str:
    """pyproject.toml with the package's dependency pinned to the previous version."""
    document = tomlkit.parse(pyproject)
    dependencies: Any = document["project"]["dependencies"]
    pin = f"{bump.package} (=={bump.previous})"
    for index, requirement in enumerate(list(dependencies)):
        if _name(str(requirement)) == bump.package:
            dependencies[index] = pin
            break
    else:
        dependencies.append(pin)
    return tomlkit.dumps(document)


def _name(requirement: str) -> str:
    return re.split(r"[\s\[(<>=!~;]", requirement.strip(), maxsplit=1)[0].lower()


def _versions(project: Path) -> set[tuple[str, str]]:
    return {(str(p["name"]), str(p["version"])) for p in read_lock(project)["package"]}


# --------------------------------------------------------------------------- the rounds


@dataclass
class BumpRuns:
    project: BumpProject
    plugin: list[PushLog] = field(default_factory=list)
    plugin_uploaded: list[float] = field(default_factory=list)  # bytes, from the manifests
    baseline: list[BaselineRun] = field(default_factory=list)


def figure8(bench: Bench, bumps: list[BumpProject]) -> Figure:
    bench.engine.make_cold()
    figure = Figure(
        8,
        "A one-package bump, the previous image in the registry (webservice)",
        "The previous commit's image is in the repository; the commit changes one package's "
        "version in poetry.lock. Plugin: `poetry image push` with Poetry's cache as the "
        "previous commit's push left it. Baseline: `docker build` + `docker push` of the plain "
        "recipe with the engine's layers of the previous commit's build (its best case: only "
        "`COPY pyproject.toml poetry.lock` and `poetry install` run again). Bytes: what each "
        "push uploaded, against the bumped package's layer (the layer of the bumped image that "
        "holds it, as `push --json` reports it); what a runner pulls: figure 11. Plugin and "
        "baseline alternate.",
        [],
    )
    for item in bumps:
        runs = bump_runs(bench, item, bench.webservice)
        add_bump(figure, runs)
    return figure


def bump_runs(
    bench: Bench, item: BumpProject, project: Path, system_packages: Sequence[str] = ()
) -> BumpRuns:
    """The rounds of one bump: `project` is the bumped commit's working copy, `item.previous`
    the previous commit's; `system_packages`, what both install besides the lock (the plugin's
    from their pyproject.toml, the baseline's Dockerfile apt-installs them)."""
    workspace, name = bench.workspace, item.bump.package
    log(f"bump of {name}: the previous commit's image, pushed and built (not timed)")
    workspace.empty_host_caches()
    bench.push(item.previous, bench.repository(project, f"-before-{name}"))
    kept = workspace.keep_poetry_cache(f"{project.name}-before-{name}")
    previous_context = baseline.prepare_context(
        item.previous,
        workspace.baseline / f"{project.name}-before-{name}",
        bench.poetry_version,
        bench.base,
        system_packages,
    )
    previous_image = (
        f"{bench.baseline_repository(project, f'-before-{name}')}:"
        f"{baseline.md5_tag(previous_context)}"
    )
    bench.build_baseline(previous_context, previous_image)
    bumped_context = baseline.prepare_context(
        project,
        workspace.baseline / f"{project.name}-bump-{name}",
        bench.poetry_version,
        bench.base,
        system_packages,
    )
    runs = BumpRuns(item)

    def plugin_round(number: int) -> None:
        repository = bench.repository(project, f"-bump-{name}-{number}")
        workspace.restore_poetry_cache(kept)
        previous = bench.push(item.previous, repository).reference
        log(f"bump of {name}, round {number}: plugin, Poetry's cache of the previous push")
        bumped = bench.push(project, repository)
        new, old = pushed(bumped.reference), pushed(previous)
        runs.plugin.append(bumped)
        runs.plugin_uploaded.append(new.new_layers(old) + new.config)
        log(f"  {bumped.seconds:.1f} s")

    def baseline_round(number: int) -> None:
        repository = bench.baseline_repository(project, f"-bump-{name}-{number}")
        previous = f"{repository}:{baseline.md5_tag(previous_context)}"
        bench.engine.tag(previous_image, previous)
        baseline.push(previous, cwd=previous_context, env=bench.env)
        log(f"bump of {name}, round {number}: baseline, the previous build's layers cached")
        reference = f"{repository}:{baseline.md5_tag(bumped_context)}"
        build = bench.build_baseline(bumped_context, reference)
        push = baseline.push(reference, cwd=bumped_context, env=bench.env)
        new_layers = pushed(reference).new_layers(pushed(previous))
        runs.baseline.append(
            BaselineRun(
                build.seconds,
                push.seconds,
                (*baseline.build_parts(build), *baseline.push_parts(push)),
                new_layers,
            )
        )
        bench.engine.remove(reference)
        bench.engine.remove(previous)
        log(f"  {build.seconds:.1f} s + {push.seconds:.1f} s")

    measures = (plugin_round, baseline_round)
    for index in range(bench.repeats.builds):
        for position in rotated(len(measures), index):
            measures[position](index + 1)
    return runs


# --------------------------------------------------------------------------- the figure


def add_bump(figure: Figure, runs: BumpRuns) -> None:
    """The bump's rows, its goals (time and bytes) and the parts of both median runs."""
    bump, version = runs.project.bump, runs.project.version
    what = f"{bump.package} {bump.previous} -> {version}"
    layer = holding(runs.plugin[-1].layers, bump.package, version)  # of the bumped image
    plugin, job = seconds(runs.plugin), seconds(runs.baseline)
    sent = Samples(tuple(value / MB for value in runs.plugin_uploaded))
    baseline_bytes = Samples(tuple(run.uploaded / MB for run in runs.baseline))
    own = Samples((layer.size / MB,))
    plugin_parts = f"{what}: plugin, the parts of the median run"
    recipe_parts = f"{what}: baseline, the parts of the median run"
    figure.rows += [
        Row(f"{what}: plugin, `poetry image push`, Poetry's cache kept", plugin),
        Row(f"{what}: baseline, `docker build` + `docker push`, previous build cached", job),
        Row(f"{what}: plugin, uploaded (its summary line)", uploaded(runs.plugin), "MB"),
        Row(f"{what}: plugin, uploaded (the new blobs: layers and config)", sent, "MB"),
        Row(f"{what}: baseline, uploaded (the new layers)", baseline_bytes, "MB"),
        Row(f"{what}: {bump.package}'s own layer", own, "MB"),
    ]
    figure.checks += [
        Check(
            f"{what}: plugin at least 10x faster than the baseline",
            Ratio.of(job, plugin),
            10,
            True,
            sides=Sides(plugin, job, plugin_parts, recipe_parts),
        ),
        Check(
            f"{what}: the plugin's upload at most 1.5x {bump.package}'s own layer",
            Ratio.of(sent, own),
            1.5,
            False,
        ),
    ]
    figure.notes.append(
        f"{what}: {bump.why}. The plugin's image has it in a layer of {layer.size / MB:.2f} MB "
        f"({layer.comment}); the baseline uploads {baseline_bytes.median / own.median:.0f}x the "
        "package's own layer."
    )
    median_parts(figure, runs.plugin, plugin_parts)
    baseline_parts(figure, runs.baseline, recipe_parts)
