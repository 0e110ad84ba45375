"""Figure 12: system packages (issue 23). The deps job of the webservice lock with a Django
commerce engine's run-time Debian packages (`SYSTEM_PACKAGES`), against the plain recipe whose
Dockerfile apt-installs the same packages before Poetry's install step.

The plugin's side is the webservice working copy with `system-packages` set in
`[tool.poetry-ci-image]` (the lock is the same: Poetry's content-hash does not cover the
plugin's table); the packages come from the base's own apt sources, as the plugin reads them,
and the baseline's `apt-get` reads the same sources in the build's container. In one figure:

- cold and cache kept, as figures 1 and 7: rounds in an order that rotates, each with the
  plugin's push on empty host caches then again with Poetry's cache as it left it (each to an
  empty repository), and the baseline's build + push on an empty engine;
- a one-package bump, as figure 8 (bump.py), both commits with the system packages: the
  previous image in the registry, Poetry's cache of its push, the baseline's previous build
  cached;
- what the system packages add to a warm push: the same push of the lock with and without
  `system-packages`, Poetry's cache kept (every layer of both in it), each to an empty
  repository, alternated round by round.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import tomlkit

from benchmarks import baseline
from benchmarks.bench import ONE_PLATFORM
from benchmarks.bench import alternated
from benchmarks.bench import log
from benchmarks.bench import pairs
from benchmarks.bench import rotated
from benchmarks.bump import add_bump
from benchmarks.bump import bump_runs
from benchmarks.cold import MB
from benchmarks.cold import BaselineRun
from benchmarks.cold import baseline_job
from benchmarks.cold import baseline_parts
from benchmarks.cold import baseline_rows
from benchmarks.cold import faster_than_baseline
from benchmarks.cold import median_parts
from benchmarks.cold import plugin_pair
from benchmarks.cold import seconds
from benchmarks.cold import uploaded
from benchmarks.history import debian_packages
from benchmarks.history import system_layers
from benchmarks.results import Check
from benchmarks.results import Compared
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.timing import Samples
from benchmarks.timing import paired_difference
from benchmarks.workspace import copy_project
from benchmarks.workspace import rehash


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Sequence
    from pathlib import Path

    from benchmarks.bench import Bench
    from benchmarks.bump import BumpProject
    from benchmarks.push_record import PushLog


# Issue 23's first list: what a Django commerce engine's Dockerfile installs for run time.
SYSTEM_PACKAGES = (
    "libffi8",
    "libgdk-pixbuf-2.0-0",
    "liblcms2-2",
    "libopenjp2-7",
    "libssl3",
    "libtiff6",
    "libwebp7",
    "libpq5",
    "libmagic1",
    "libxslt1-dev",
    "libcurl4",
    "media-types",
)

# The breakdowns the figure writes (the goals name them: results.Sides, results.Compared).
COLD_PARTS = "plugin, empty caches: the parts of the median run"
COLD_BACKGROUND = "plugin, empty caches, the same run: made in parallel (not in the sum)"
WARM_PARTS = "plugin, Poetry's cache kept: the parts of the median run"
WARM_BACKGROUND = "plugin, Poetry's cache kept, the same run: made in parallel (not in the sum)"
BASELINE_PARTS = "baseline, empty engine: the parts of the median run"
WITH_PARTS = "warm push with system-packages: the parts of the median run"
WITH_BACKGROUND = "warm push with system-packages, the same run: made in parallel (not in the sum)"
WITHOUT_PARTS = "warm push of the lock alone: the parts of the median run"


@dataclass
class SystemRuns:
    """The runs of figure 12 but the bumps'."""

    context: Path  # the baseline's build context: the lock, the Dockerfile with apt-get
    cold: list[PushLog] = field(default_factory=list)
    warm: list[PushLog] = field(default_factory=list)
    baseline: list[BaselineRun] = field(default_factory=list)
    alone: list[PushLog] = field(default_factory=list)  # warm pushes without system-packages
    with_system: list[PushLog] = field(default_factory=list)  # the same pushes with them


def figure12(bench: Bench, bumps: Sequence[BumpProject]) -> Figure:
    project = with_system_packages(bench, bench.webservice)
    runs = SystemRuns(
        baseline.prepare_context(
            project,
            bench.workspace.baseline / project.name,
            bench.poetry_version,
            bench.base,
            SYSTEM_PACKAGES,
        )
    )
    variants = (_plugin, _baseline)
    for index in range(bench.repeats.builds):
        for position in rotated(len(variants), index):
            variants[position](bench, project, runs, index + 1)
    _warm_with_and_without(bench, project, runs)
    figure = _figure(runs)
    if bench.build_network:
        figure.notes.append(
            f"The baseline's build steps ran with `docker build --network {bench.build_network}` "
            "(`--build-network`), as the plugin's pushes use the host's network: the engine's "
            "default bridge is not available on this machine."
        )
    bench.engine.make_cold()
    for item in bumps:
        previous = dataclasses.replace(item, previous=with_system_packages(bench, item.previous))
        add_bump(figure, bump_runs(bench, previous, project, SYSTEM_PACKAGES))
    return figure


def with_system_packages(bench: Bench, project: Path) -> Path:
    """A copy of the working copy `project` whose pyproject.toml sets `system-packages` (the
    lock stays fresh: Poetry's content-hash does not cover `[tool.poetry-ci-image]`)."""
    copy = copy_project(project, bench.workspace.projects / f"{project.name}-system")
    pyproject = copy / "pyproject.toml"
    document = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
    tool: Any = document.setdefault("tool", tomlkit.table())
    settings = tomlkit.table()
    settings["system-packages"] = list(SYSTEM_PACKAGES)
    tool["poetry-ci-image"] = settings
    pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
    rehash(copy, bench.plugin)
    return copy


def _plugin(bench: Bench, project: Path, runs: SystemRuns, number: int) -> None:
    cold, warm = plugin_pair(bench, project, number, ONE_PLATFORM, "")
    runs.cold.append(cold)
    runs.warm.append(warm)


def _baseline(bench: Bench, project: Path, runs: SystemRuns, number: int) -> None:
    run, _ = baseline_job(bench, project, runs.context, number)
    runs.baseline.append(run)


def _warm_with_and_without(bench: Bench, project: Path, runs: SystemRuns) -> None:
    """The same warm push of the lock without and with `system-packages`, alternated: Poetry's
    cache as the rounds left it (after one untimed push of each, every layer of both is in it),
    each push to a repository that holds nothing."""
    log("what the system packages add to a warm push: with and without, alternated")

    def push(variant: Path, logs: list[PushLog]) -> Callable[[], float]:
        def once() -> float:
            pushed = bench.push(variant, bench.repository(variant, f"-warm-again-{len(logs)}"))
            logs.append(pushed)
            return pushed.seconds

        return once

    alternated(
        [push(bench.webservice, runs.alone), push(project, runs.with_system)],
        bench.repeats.pairs,
    )
    del runs.alone[0], runs.with_system[0]  # the untimed first push of each: round by round


def _figure(runs: SystemRuns) -> Figure:
    cold, warm, job = seconds(runs.cold), seconds(runs.warm), seconds(runs.baseline)
    alone, with_system = seconds(runs.alone), seconds(runs.with_system)
    added = Samples(tuple(first - second for first, second in pairs(with_system, alone)))
    layers = system_layers(runs.cold[-1].layers)
    packages = {name for layer in layers for name in debian_packages(layer.comment)}
    figure = Figure(
        12,
        "System packages: the deps job with a Django commerce engine's Debian packages "
        "(webservice)",
        "The webservice lock with `system-packages` set to the run-time list of issue 23 ("
        + ", ".join(f"`{name}`" for name in SYSTEM_PACKAGES)
        + "): the plugin resolves them against the base's dpkg database and its own apt "
        "sources, checks the release's signature and every file's hash, and writes their "
        "layers on the host. Baseline: the plain recipe with, before Poetry is installed, "
        "`RUN apt-get update && apt-get install -y --no-install-recommends <the list> && rm -rf "
        "/var/lib/apt/lists/*` (the archive the base's sources name, in the build's container). "
        "Empty caches and cache kept as in figures 1 and 7 (the plugin and the baseline in "
        "rounds that rotate; the baseline on an empty engine); the bumps as in figure 8, both "
        "commits with the system packages. The warm push with and without the system packages: "
        "the same `poetry image push` of the lock, Poetry's cache kept, each to an empty "
        "repository, alternated; the goal is on the median of the per-round differences, with "
        "their interquartile range.",
        [
            Row("plugin: `poetry image push`, empty caches", cold),
            Row("plugin: `poetry image push`, Poetry's cache kept", warm),
            *baseline_rows(runs.baseline),
            Row("baseline: of which the apt-get step", _system_steps(runs.baseline)),
            Row("plugin: uploaded, empty caches (its summary line)", uploaded(runs.cold), "MB"),
            Row(
                "baseline: uploaded (the layers the registry lacked)",
                Samples(tuple(run.uploaded / MB for run in runs.baseline)),
                "MB",
            ),
            Row(
                "plugin image: the system packages' layers, their records' included (compressed)",
                Samples((sum(layer.size for layer in layers) / MB,)),
                "MB",
            ),
            Row("plugin image: system layers", Samples((len(layers),)), ""),
            Row("plugin image: Debian packages added", Samples((len(packages),)), ""),
            Row("warm push of the lock alone (Poetry's cache kept)", alone),
            Row("warm push of the lock with system-packages (Poetry's cache kept)", with_system),
            Row("warm push: what system-packages adds, round by round", added),
        ],
        [
            faster_than_baseline(
                cold,
                job,
                2,
                runner="empty caches",
                sides=(COLD_PARTS, BASELINE_PARTS, COLD_BACKGROUND),
            ),
            faster_than_baseline(
                warm,
                job,
                6,
                runner="Poetry's cache kept",
                sides=(WARM_PARTS, BASELINE_PARTS, WARM_BACKGROUND),
            ),
            warm_overhead(with_system, alone, Compared(WITH_PARTS, WITHOUT_PARTS, WITH_BACKGROUND)),
        ],
    )
    median_parts(figure, runs.cold, COLD_PARTS, COLD_BACKGROUND)
    median_parts(figure, runs.warm, WARM_PARTS, WARM_BACKGROUND)
    baseline_parts(figure, runs.baseline, BASELINE_PARTS)
    median_parts(figure, runs.with_system, WITH_PARTS, WITH_BACKGROUND)
    median_parts(figure, runs.alone, WITHOUT_PARTS)
    return figure


def warm_overhead(with_system: Samples, alone: Samples, compared: Compared) -> Check:
    """The goal on what the system packages add to a warm push: the median of the per-round
    differences of the two alternated pushes, at most 1 s; `compared` names their breakdowns."""
    return Check(
        "the system packages add at most 1 s to a warm push",
        paired_difference(pairs(with_system, alone)),
        1.0,
        False,
        "s",
        compared=compared,
    )


def _system_steps(runs: Sequence[BaselineRun]) -> Samples:
    """Seconds of each baseline build's steps that install the system packages."""
    return Samples(
        tuple(sum(part.value for part in run.parts if part.group == "system") for run in runs)
    )
