"""Figures 1 and 4: cold builds of the webservice's dependency image, their time and size."""

from __future__ import annotations

import re
import time

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from benchmarks import baseline
from benchmarks.bench import log
from benchmarks.engine import BASE_IMAGE
from benchmarks.engine import DirectorySize
from benchmarks.engine import compressed_size
from benchmarks.engine import directory_sizes
from benchmarks.engine import first_poetry_start
from benchmarks.profiling import docker_step
from benchmarks.profiling import median_segments
from benchmarks.profiling import run_streamed
from benchmarks.profiling import segments
from benchmarks.results import Check
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.results import Segment
from benchmarks.timing import Ratio
from benchmarks.timing import Samples


if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.bench import Bench


MB = 1_000_000
PLUGIN_VENVS = ("/opt/venv", "/opt/poetry")  # dockerfile.py: the dependencies, Poetry
BASELINE_VENVS = ("/app/.venv", "/opt/poetry")  # baseline.py: the same
PLUGIN_PARTS = "plugin, the median of each part over the runs (timed by its log lines)"
BASELINE_PARTS = "baseline, the median of each part over the runs"
_CONTENT_HASH = re.compile(r"\b(dir|file|multi):[0-9a-f]{64}")


@dataclass
class ColdBuilds:
    """Figure 1's runs; figures 2 to 4 reuse their images and numbers."""

    plugin_reference: str
    baseline_reference: str
    baseline_context: Path
    plugin: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    plugin_parts: list[list[tuple[str, float]]] = field(default_factory=list)
    baseline_parts: list[list[tuple[str, float]]] = field(default_factory=list)
    plugin_sizes: list[float] = field(default_factory=list)
    baseline_sizes: list[float] = field(default_factory=list)
    plugin_layers: list[Segment] = field(default_factory=list)
    baseline_layers: list[Segment] = field(default_factory=list)
    plugin_venvs: list[DirectorySize] = field(default_factory=list)
    baseline_venvs: list[DirectorySize] = field(default_factory=list)
    plugin_poetry_start: list[float] = field(default_factory=list)
    baseline_poetry_start: list[float] = field(default_factory=list)
    first_push: dict[str, float] = field(default_factory=dict)


def cold_builds(bench: Bench) -> ColdBuilds:
    """Alternate cold builds of both images; the last pair is plugin then baseline.

    Before each build the engine is emptied (but for the base image) and so are the host's
    caches. Each image is pushed after its last build (not timed as a build), so that the
    registry has both for figures 2 and 3, and the engine keeps the baseline's layers warm.
    """
    project = bench.webservice
    context = baseline.prepare_context(
        project, bench.workspace.baseline / project.name, bench.poetry_version
    )
    cold = ColdBuilds(
        plugin_reference=bench.reference(project),
        baseline_reference=f"{bench.baseline_repository(project)}:{baseline.md5_tag(context)}",
        baseline_context=context,
    )
    runs = bench.repeats.builds
    for index in range(runs):
        last = index == runs - 1
        plugin_first = (runs - 1 - index) % 2 == 0
        order = (_cold_plugin, _cold_baseline) if plugin_first else (_cold_baseline, _cold_plugin)
        for measure in order:
            measure(bench, cold, last=last)
    return cold


def _make_cold(bench: Bench) -> None:
    bench.engine.make_cold()
    bench.workspace.empty_host_caches()


def _cold_plugin(bench: Bench, cold: ColdBuilds, *, last: bool) -> None:
    _make_cold(bench)
    log("cold build: plugin (`poetry image build`)")
    project = bench.webservice
    timeline = run_streamed(
        [str(bench.plugin.poetry), "--no-ansi", "image", "build", *bench.image_args(project)],
        cwd=project,
        env=bench.env,
    )
    cold.plugin.append(timeline.seconds)
    cold.plugin_parts.append(segments(timeline, _plugin_phase, "Poetry start-up, plan"))
    cold.plugin_sizes.append(bench.engine.image_size(cold.plugin_reference) / MB)
    log(f"  {timeline.seconds:.1f} s")
    if last:
        cold.plugin_layers = _layers(bench, cold.plugin_reference)
        cold.plugin_venvs = directory_sizes(cold.plugin_reference, PLUGIN_VENVS, bench.env)
        cold.plugin_poetry_start = first_poetry_start(
            cold.plugin_reference, bench.env, bench.repeats.builds
        )
        started = time.perf_counter()
        bench.poetry_output(bench.plugin, project, "image", "push", *bench.image_args(project))
        cold.first_push["plugin"] = time.perf_counter() - started


def _cold_baseline(bench: Bench, cold: ColdBuilds, *, last: bool) -> None:
    _make_cold(bench)
    log("cold build: baseline (`docker build`)")
    timeline = baseline.build(
        cold.baseline_context, cold.baseline_reference, index_url=bench.index_url, env=bench.env
    )
    cold.baseline.append(timeline.seconds)
    cold.baseline_parts.append(segments(timeline, _baseline_phase, "docker CLI: send the context"))
    cold.baseline_sizes.append(bench.engine.image_size(cold.baseline_reference) / MB)
    log(f"  {timeline.seconds:.1f} s")
    if last:
        cold.baseline_layers = _layers(bench, cold.baseline_reference)
        cold.baseline_venvs = directory_sizes(cold.baseline_reference, BASELINE_VENVS, bench.env)
        cold.baseline_poetry_start = first_poetry_start(
            cold.baseline_reference, bench.env, bench.repeats.builds
        )
        cold.first_push["baseline"] = baseline.push(
            cold.baseline_reference, cwd=cold.baseline_context, env=bench.env
        )


def _plugin_phase(line: str) -> str | None:
    """The plugin's status lines that start a phase (see build.py), and the build's steps."""
    phases = (
        # Poetry's wheels for the image are fetched during this phase too (in parallel since
        # plugin commit 6b0b58a, after the locked files before it).
        ("Fetching ", "host: fetch the locked files and Poetry's wheels"),
        ("Preparing the build context", "host: write the context tar"),
        ("Building ", "host: send the context to the engine"),
        ("Built ", "Poetry exits"),
    )
    for start, label in phases:
        if line.startswith(start):
            return label
    step = docker_step(line)
    return f"engine: {step}" if step else None


def _baseline_phase(line: str) -> str | None:
    if line.startswith("Successfully built"):
        return "docker CLI: tag, exit"
    step = docker_step(line)
    return f"engine: {step}" if step else None


def _layers(bench: Bench, reference: str) -> list[Segment]:
    """The non-empty layers of an image above its base, named by their instruction."""
    layers: list[Segment] = []
    for entry in reversed(bench.engine.api.history(reference)):
        size = int(entry.get("Size", 0))
        created_by = " ".join(str(entry.get("CreatedBy", "")).split())
        if size == 0 or not created_by:
            continue
        text = created_by.split("/bin/sh -c ", 1)[-1].removeprefix("#(nop) ").strip()
        text = _CONTENT_HASH.sub(r"\1", text)
        layers.append(Segment(text if len(text) <= 70 else text[:67] + "...", size / MB, "MB"))
    return layers


def figure1(cold: ColdBuilds) -> Figure:
    plugin, base = Samples(tuple(cold.plugin)), Samples(tuple(cold.baseline))
    figure = Figure(
        1,
        "Cold build of the dependency image (webservice)",
        "Empty engine (no image but the base, no build cache) and empty host caches (Poetry's "
        "cache, which holds the plugin's copy of Poetry's wheels, and pip's) before every build; "
        "plugin and baseline alternate. Plugin: `poetry image build`. Baseline: `docker build` "
        "of the plain recipe. Both fetch every file from the index given by --index-url.",
        [Row("plugin: `poetry image build`", plugin), Row("baseline: `docker build`", base)],
        [Check("plugin at least 3x faster than the baseline", Ratio.of(base, plugin), 3, True)],
    )
    figure.breakdowns[PLUGIN_PARTS] = _parts(cold.plugin_parts)
    figure.breakdowns[BASELINE_PARTS] = _parts(cold.baseline_parts)
    return figure


def _parts(runs: list[list[tuple[str, float]]]) -> list[Segment]:
    return [Segment(label, seconds) for label, seconds in median_segments(runs)]


def figure4(bench: Bench, cold: ColdBuilds) -> Figure:
    plugin, base = Samples(tuple(cold.plugin_sizes)), Samples(tuple(cold.baseline_sizes))
    base_image = bench.engine.image_size(BASE_IMAGE) / MB
    figure = Figure(
        4,
        "Image size (webservice)",
        "`docker image inspect` Size of the image of each cold build (uncompressed, base image "
        f"included: {base_image:.0f} MB), and what a pull downloads (compressed layers and "
        "config, from the registry's manifest). Not a goal of the issue, but the other side of "
        "bytecode's weight: how long Poetry takes to start as a CI job's first command in each "
        "image (timed inside the container).",
        [
            Row("plugin image", plugin, "MB"),
            Row("baseline image", base, "MB"),
            Row("plugin image, compressed", _pushed(bench, cold.plugin_reference), "MB"),
            Row("baseline image, compressed", _pushed(bench, cold.baseline_reference), "MB"),
            Row(
                "plugin image: `poetry --version`, first command in a new container",
                Samples(tuple(cold.plugin_poetry_start)),
            ),
            Row(
                "baseline image: `poetry --version`, first command in a new container",
                Samples(tuple(cold.baseline_poetry_start)),
            ),
        ],
        [Check("plugin image at least 15 % smaller", Ratio.of(plugin, base), -0.15, False, "%")],
    )
    above = (plugin.median - base_image) / (base.median - base_image) - 1
    figure.notes.append(
        f"Above the base image: plugin {plugin.median - base_image:.0f} MB, baseline "
        f"{base.median - base_image:.0f} MB ({above * 100:+.1f} %)."
    )
    figure.breakdowns["plugin image, layers above the base"] = cold.plugin_layers
    figure.breakdowns["baseline image, layers above the base"] = cold.baseline_layers
    for name, venvs in (("plugin", cold.plugin_venvs), ("baseline", cold.baseline_venvs)):
        for venv in venvs:
            figure.notes.append(
                f"{name} image, {venv.path}: {venv.total / MB:.0f} MB of files, of which "
                f"bytecode (`__pycache__`) {venv.bytecode / MB:.0f} MB and pip/setuptools/wheel "
                f"{venv.installers / MB:.0f} MB."
            )
            figure.facts[f"{name} {venv.path}"] = venv.total / MB
            figure.facts[f"{name} {venv.path} bytecode"] = venv.bytecode / MB
            figure.facts[f"{name} {venv.path} installers"] = venv.installers / MB
    figure.facts["base image"] = base_image
    return figure


def _pushed(bench: Bench, reference: str) -> Samples:
    repository, tag = reference.split("/", 1)[1].rsplit(":", 1)
    return Samples((compressed_size(bench.registry_host, repository, tag) / MB,))
