"""Figures 5 and 6: what the plugin adds to Poetry's start-up, and the tag of a large lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.bench import alternated
from benchmarks.bench import log
from benchmarks.bench import paired_check
from benchmarks.bench import within_version
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.workspace import read_lock


if TYPE_CHECKING:
    from benchmarks.bench import Bench


def figure5(bench: Bench) -> Figure:
    log("plugin load overhead: `poetry --version` with and without the plugin, alternated")
    project = bench.webservice
    with_plugin, without = alternated(
        [
            lambda: bench.poetry(bench.plugin, project, "--version"),
            lambda: bench.poetry(bench.plain, project, "--version"),
        ],
        2 * bench.repeats.pairs,
    )
    return Figure(
        5,
        "Plugin load overhead",
        "`poetry --version` in two venvs that hold the same pinned distributions (this "
        "project's development set, Poetry included), one with the plugin installed as a wheel "
        "and one without; runs alternate, the order flipping every pair.",
        [Row("with the plugin", with_plugin), Row("without the plugin", without)],
        [paired_check("overhead within 5 %", with_plugin, without, at_most=0.05, shown_as="%")],
    )


def figure6(bench: Bench) -> Figure:
    log("large lock: `poetry image tag` (warm and cold caches) vs `poetry --version`")
    project = bench.large
    tag = ("image", "tag", *bench.image_args(project))
    warm, cold, version = alternated(
        [
            lambda: bench.poetry(bench.plugin, project, *tag),
            lambda: bench.poetry_cold(bench.plugin, project, *tag),
            lambda: bench.poetry(bench.plugin, project, "--version"),
        ],
        bench.repeats.pairs,
    )
    locked = len(read_lock(project)["package"])
    figure = Figure(
        6,
        f"`poetry image tag` on the large lock ({locked} locked packages)",
        "`poetry image tag` (plan the install from the lock for the target, fingerprint it), "
        "with Poetry's cache kept from the previous run (where the plugin caches its install "
        "plan) and with it emptied before each run (a fresh CI runner), and `poetry --version` "
        "of the same Poetry; the three rotate.",
        [
            Row("`poetry image tag`, Poetry's cache kept", warm),
            Row("`poetry image tag`, fresh runner (empty caches)", cold),
            Row("`poetry --version`", version),
        ],
        within_version("`poetry image tag`", warm, cold, version),
    )
    figure.profiles["`poetry image tag`, fresh runner (one run under cProfile)"] = bench.profile(
        project, "tag-cold", tag, fresh=True
    )
    figure.profiles["`poetry image tag`, Poetry's cache kept (one run under cProfile)"] = (
        bench.profile(project, "tag-warm", tag)
    )
    return figure
