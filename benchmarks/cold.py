"""Figures 1, 7, 9 and 4: the deps job on a fresh runner and on one that keeps Poetry's cache,
for one platform and for two, against the plain recipe's build and push; the images' size.

One set of rounds measures them side by side. In each round, in an order that rotates:

- plugin, one platform: empty host caches, `poetry image push` to a repository that holds
  nothing (figure 1); then, with Poetry's cache as that push left it, the same push to another
  empty repository (figure 7);
- plugin, two platforms (linux/amd64 and linux/arm64): the same two pushes (figure 9);
- baseline: an empty engine (no image, not even the base: no build cache), `docker build` of the
  plain recipe, which pulls the base, then `docker push` to an empty repository.

Every repository is in the one registry that holds the base (`library/python`), so both
approaches mount the base's layers rather than upload them.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from benchmarks import baseline
from benchmarks.bench import ONE_PLATFORM
from benchmarks.bench import log
from benchmarks.bench import paired_check
from benchmarks.bench import rotated
from benchmarks.engine import PLATFORMS
from benchmarks.engine import DirectorySize
from benchmarks.engine import directory_sizes
from benchmarks.engine import first_poetry_start
from benchmarks.engine import pushed
from benchmarks.history import label
from benchmarks.results import BASELINE_PARTS
from benchmarks.results import ONE_PLATFORM_PARTS
from benchmarks.results import PLUGIN_BACKGROUND
from benchmarks.results import PLUGIN_PARTS
from benchmarks.results import TWO_PLATFORM_BACKGROUND
from benchmarks.results import TWO_PLATFORM_PARTS
from benchmarks.results import TWO_PLATFORM_WARM_PARTS
from benchmarks.results import Check
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.results import Segment
from benchmarks.results import Sides
from benchmarks.timing import Ratio
from benchmarks.timing import Samples
from benchmarks.timing import median_run


if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from benchmarks.bench import Bench
    from benchmarks.push_record import PushLog


MB = 1_000_000
PLUGIN_VENVS = ("/opt/venv", "/opt/poetry")  # image/assemble.py: the dependencies, Poetry
BASELINE_VENVS = ("/app/.venv", "/opt/poetry")  # baseline.py: the same


@dataclass(frozen=True)
class BaselineRun:
    """One run of the plain recipe's deps job: `docker build` then `docker push`."""

    build: float
    push: float
    parts: tuple[Segment, ...]  # the build's steps, then the push: they sum to `seconds`
    uploaded: int  # bytes: the layers the registry did not have (not the base's)

    @property
    def seconds(self) -> float:
        return self.build + self.push


@dataclass
class Rounds:
    """The runs of figures 1, 7 and 9; figures 2 to 4 reuse their images and numbers."""

    baseline_context: Path
    cold: list[PushLog] = field(default_factory=list)
    warm: list[PushLog] = field(default_factory=list)
    cold_two: list[PushLog] = field(default_factory=list)
    warm_two: list[PushLog] = field(default_factory=list)
    baseline: list[BaselineRun] = field(default_factory=list)
    baseline_image: str = ""  # the last baseline build, still in the engine
    plugin_reference: str = ""  # figures 2 to 4: the image in the registry under these names
    baseline_reference: str = ""


def cold_rounds(bench: Bench) -> Rounds:
    project = bench.webservice
    rounds = Rounds(
        baseline.prepare_context(
            project, bench.workspace.baseline / project.name, bench.poetry_version, bench.base
        )
    )
    variants = (_plugin_one, _plugin_two, _baseline)
    for index in range(bench.repeats.builds):
        for position in rotated(len(variants), index):
            variants[position](bench, rounds, index + 1)
    _publish(bench, rounds)
    return rounds


def _plugin_one(bench: Bench, rounds: Rounds, number: int) -> None:
    cold, warm = plugin_pair(bench, bench.webservice, number, ONE_PLATFORM, "")
    rounds.cold.append(cold)
    rounds.warm.append(warm)


def _plugin_two(bench: Bench, rounds: Rounds, number: int) -> None:
    cold, warm = plugin_pair(bench, bench.webservice, number, PLATFORMS, "-2p")
    rounds.cold_two.append(cold)
    rounds.warm_two.append(warm)


def plugin_pair(
    bench: Bench, project: Path, number: int, platforms: Sequence[str], suffix: str
) -> tuple[PushLog, PushLog]:
    """A push of `project` with empty host caches, then one with Poetry's cache as it left it,
    each to a repository that holds nothing."""
    bench.workspace.empty_host_caches()
    log(f"round {number}: plugin, {len(platforms)} platform(s), empty caches")
    cold = bench.push(project, bench.repository(project, f"{suffix}-cold-{number}"), platforms)
    bench.workspace.empty_pip_cache()
    log(f"  {cold.seconds:.1f} s; again with Poetry's cache kept")
    warm = bench.push(project, bench.repository(project, f"{suffix}-warm-{number}"), platforms)
    log(f"  {warm.seconds:.1f} s")
    return cold, warm


def _baseline(bench: Bench, rounds: Rounds, number: int) -> None:
    run, rounds.baseline_image = baseline_job(
        bench, bench.webservice, rounds.baseline_context, number
    )
    rounds.baseline.append(run)


def baseline_job(
    bench: Bench, project: Path, context: Path, number: int
) -> tuple[BaselineRun, str]:
    """The plain recipe's deps job on a fresh runner: an empty engine, `docker build` of
    `context`, `docker push` to a repository that holds nothing; the run, and the image built."""
    bench.engine.make_cold()
    log(f"round {number}: baseline, empty engine: `docker build` + `docker push`")
    reference = (
        f"{bench.baseline_repository(project, f'-cold-{number}')}:{baseline.md5_tag(context)}"
    )
    build = bench.build_baseline(context, reference)
    push = baseline.push(reference, cwd=context, env=bench.env)
    uploaded = pushed(reference).new_layers(pushed(bench.base))
    log(f"  {build.seconds:.1f} s + {push.seconds:.1f} s")
    parts = (*baseline.build_parts(build), *baseline.push_parts(push))
    return BaselineRun(build.seconds, push.seconds, parts, uploaded), reference


def _publish(bench: Bench, rounds: Rounds) -> None:
    """Both images of the lock under their own names, for figures 2 to 4 (not timed): the
    plugin's pushed with Poetry's cache of the last round, the baseline's last build tagged."""
    project = bench.webservice
    rounds.plugin_reference = bench.reference(project)
    bench.push(project, bench.repository(project))
    rounds.baseline_reference = (
        f"{bench.baseline_repository(project)}:{baseline.md5_tag(rounds.baseline_context)}"
    )
    bench.engine.tag(rounds.baseline_image, rounds.baseline_reference)
    baseline.push(rounds.baseline_reference, cwd=rounds.baseline_context, env=bench.env)


# --------------------------------------------------------------------------- figures 1 and 7


def seconds(runs: Sequence[PushLog] | Sequence[BaselineRun]) -> Samples:
    """Each run's seconds: the plugin's push, or the baseline's build and push."""
    return Samples(tuple(run.seconds for run in runs))


def uploaded(runs: Sequence[PushLog]) -> Samples:
    """Megabytes the summary line says each push uploaded."""
    return Samples(tuple(run.summary.uploaded_mb if run.summary else 0.0 for run in runs))


def median_parts(
    figure: Figure, runs: Sequence[PushLog], title: str, background: str | None = None
) -> None:
    """The parts of the median run (they sum to its seconds), and of its background."""
    run = runs[median_run([run.seconds for run in runs])]
    figure.breakdowns[title] = list(run.parts)
    figure.totals[title] = run.seconds
    if background is not None and run.background:
        figure.breakdowns[background] = list(run.background)


def baseline_rows(runs: Sequence[BaselineRun], note: str = "") -> list[Row]:
    return [
        Row(f"baseline: `docker build` + `docker push`, empty engine{note}", seconds(runs)),
        Row("baseline: of which `docker build`", Samples(tuple(run.build for run in runs))),
        Row("baseline: of which `docker push`", Samples(tuple(run.push for run in runs))),
    ]


def baseline_parts(
    figure: Figure, runs: Sequence[BaselineRun], title: str = BASELINE_PARTS
) -> None:
    """The parts of the baseline's median run: its build's steps, then its push."""
    run = runs[median_run([run.seconds for run in runs])]
    figure.breakdowns[title] = list(run.parts)
    figure.totals[title] = run.seconds


def faster_than_baseline(
    plugin: Samples,
    job: Samples,
    target: float,
    *,
    runner: str = "",
    sides: tuple[str, str, str] = (PLUGIN_PARTS, BASELINE_PARTS, PLUGIN_BACKGROUND),
) -> Check:
    """The goal of figures 1, 7 and 12: the plugin's push `target` times faster than the
    baseline's job, or more; `runner` says which (cache kept or not) when a figure has both,
    `sides` the titles of the plugin's, the baseline's and the plugin's parallel breakdowns."""
    return Check(
        f"{runner}{': ' if runner else ''}plugin at least {target:g}x faster than the baseline",
        Ratio.of(job, plugin),
        target,
        True,
        sides=Sides(plugin, job, *sides),
    )


def _deps_job(
    number: int,
    title: str,
    what: str,
    rounds: Rounds,
    *,
    runs: Sequence[PushLog],
    caches: str,
    target: float,
    note: str = "",
    more: Sequence[Row] = (),
) -> Figure:
    """Figures 1 and 7: the plugin's pushes (`runs`, its host caches as `caches` says) against
    the baseline's job (`note` on its rows), the bytes the plugin uploaded, `more` rows, the goal
    of the plugin `target` times faster, and the parts of the plugin's median run."""
    plugin, job = seconds(runs), seconds(rounds.baseline)
    figure = Figure(
        number,
        title,
        what,
        [
            Row(f"plugin: `poetry image push`, {caches}", plugin),
            *baseline_rows(rounds.baseline, note),
            Row("plugin: uploaded (its summary line)", uploaded(runs), "MB"),
            *more,
        ],
        [faster_than_baseline(plugin, job, target)],
    )
    median_parts(figure, runs, PLUGIN_PARTS, PLUGIN_BACKGROUND)
    return figure


def figure1(rounds: Rounds) -> Figure:
    figure = _deps_job(
        1,
        "The deps job on a fresh runner (webservice)",
        "Empty host caches (Poetry's cache, where the plugin keeps its plans, layers and "
        "Poetry's wheels, and pip's) and a registry that has only the base image. Plugin: "
        "`poetry image push` (assembles the image on the host, pushes it through the registry "
        "API). Baseline: what the plain recipe's deps job runs on a fresh docker-in-docker "
        "runner: `docker build` on an engine with no image and no build cache (it pulls the "
        "base), then `docker push`. Both fetch every file from the index given by --index-url "
        "and push to an empty repository of the same registry; plugin and baseline alternate.",
        rounds,
        runs=rounds.cold,
        caches="empty caches",
        # With bytecode the cold push compiles every module: the issue allows down to 2.5x.
        target=2.5,
        more=[
            Row(
                "baseline: uploaded (the layers the registry lacked)",
                Samples(tuple(run.uploaded / MB for run in rounds.baseline)),
                "MB",
            )
        ],
    )
    baseline_parts(figure, rounds.baseline)
    return figure


def figure7(rounds: Rounds) -> Figure:
    return _deps_job(
        7,
        "The deps job on a runner that keeps Poetry's cache (webservice)",
        "Each round's second plugin push: Poetry's cache as the push with empty caches just "
        "left it (the plugin's plan, file lists and layers warm; pip's cache emptied), the "
        "registry without the image (a fresh repository). Baseline: figure 1's runs, the same "
        "rounds (a docker-in-docker runner starts with an empty engine either way).",
        rounds,
        runs=rounds.warm,
        caches="Poetry's cache kept",
        target=6,
        note=" (figure 1)",
    )


# --------------------------------------------------------------------------- figure 9


def figure9(rounds: Rounds) -> Figure:
    cold, cold_two = seconds(rounds.cold), seconds(rounds.cold_two)
    warm, warm_two = seconds(rounds.warm), seconds(rounds.warm_two)
    figure = Figure(
        9,
        "The second platform: linux/amd64 + linux/arm64 in one image index (webservice)",
        "The same rounds: `poetry image push --platform linux/amd64,linux/arm64` (the base is a "
        "two-platform index in the registry) against the one-platform push of figures 1 and 7, "
        "with empty host caches and with Poetry's cache kept. Ratios are per round.",
        [
            Row("one platform, empty caches (figure 1)", cold),
            Row("two platforms, empty caches", cold_two),
            Row("one platform, Poetry's cache kept (figure 7)", warm),
            Row("two platforms, Poetry's cache kept", warm_two),
            Row("one platform: uploaded (its summary line)", uploaded(rounds.cold), "MB"),
            Row("two platforms: uploaded (its summary line)", uploaded(rounds.cold_two), "MB"),
        ],
        [
            paired_check("two platforms under 1.8x one, empty caches", cold_two, cold, at_most=1.8),
            paired_check(
                "two platforms under 1.8x one, Poetry's cache kept", warm_two, warm, at_most=1.8
            ),
        ],
    )
    median_parts(figure, rounds.cold, ONE_PLATFORM_PARTS)
    median_parts(figure, rounds.cold_two, TWO_PLATFORM_PARTS, TWO_PLATFORM_BACKGROUND)
    median_parts(figure, rounds.warm_two, TWO_PLATFORM_WARM_PARTS)
    return figure


# --------------------------------------------------------------------------- figure 4


@dataclass(frozen=True)
class ImageFacts:
    size: float  # MB, `docker image inspect` Size
    compressed: float  # MB, config and layers as the registry stores them
    layers: int  # in the manifest, the base's included
    above_base: list[Segment]  # the layers above the base, by their history entry (MB)
    venvs: list[DirectorySize]
    poetry_start: list[float]


def _image_facts(bench: Bench, reference: str, venvs: tuple[str, ...]) -> ImageFacts:
    manifest = pushed(reference)
    return ImageFacts(
        size=bench.engine.image_size(reference) / MB,
        compressed=manifest.size / MB,
        layers=len(manifest.layers),
        above_base=_layers(bench, reference),
        venvs=directory_sizes(reference, venvs, bench.env),
        poetry_start=first_poetry_start(reference, bench.env, bench.repeats.builds),
    )


def _layers(bench: Bench, reference: str) -> list[Segment]:
    """The non-empty layers of an image above its base, named by their history entry."""
    base = len(bench.engine.history(bench.base))
    return [
        Segment(
            label(str(entry.get("CreatedBy") or ""), str(entry.get("Comment") or "")),
            int(entry["Size"]) / MB,
            "MB",
        )
        for entry in bench.engine.history(reference)[base:]
        if int(entry.get("Size", 0))
    ]


def figure4(bench: Bench, rounds: Rounds) -> Figure:
    log("image sizes: `docker pull` of the plugin's image, both images inspected and run")
    bench.engine.pull(rounds.plugin_reference)
    plugin = _image_facts(bench, rounds.plugin_reference, PLUGIN_VENVS)
    recipe = _image_facts(bench, rounds.baseline_reference, BASELINE_VENVS)
    project = bench.webservice
    without = bench.push(
        project, bench.repository(project, "-no-bytecode"), ONE_PLATFORM, "--bytecode", "off"
    ).reference
    bench.engine.pull(without)
    no_bytecode = (bench.engine.image_size(without) / MB, pushed(without).size / MB)
    base_image = bench.engine.image_size(bench.base) / MB
    one = Samples
    figure = Figure(
        4,
        "Image size (webservice)",
        "Uncompressed: `docker image inspect` Size, base image included "
        f"({base_image:.0f} MB), of the plugin's image after `docker pull` and of the "
        "baseline's build. Compressed: the config and layers of each manifest, as the registry "
        "stores them (what a runner without any of it pulls). The plugin's image with its "
        "bytecode (the default) and without it. Not a goal, but the other side of "
        "bytecode's weight: how long Poetry takes to start as a CI job's first command in each "
        "image (timed inside the container).",
        [
            Row("plugin image", one((plugin.size,)), "MB"),
            Row("baseline image", one((recipe.size,)), "MB"),
            Row("plugin image, compressed", one((plugin.compressed,)), "MB"),
            Row("plugin image without bytecode (`--bytecode off`)", one(no_bytecode[:1]), "MB"),
            Row("plugin image without bytecode, compressed", one(no_bytecode[1:]), "MB"),
            Row("baseline image, compressed", one((recipe.compressed,)), "MB"),
            Row("plugin image: layers (the base's 1 included)", one((plugin.layers,)), ""),
            Row("baseline image: layers (the base's 1 included)", one((recipe.layers,)), ""),
            Row(
                "plugin image: `poetry --version`, first command in a new container",
                Samples(tuple(plugin.poetry_start)),
            ),
            Row(
                "baseline image: `poetry --version`, first command in a new container",
                Samples(tuple(recipe.poetry_start)),
            ),
        ],
        [
            Check(
                "plugin image at least 15 % smaller",
                Ratio.of(one((plugin.size,)), one((recipe.size,))),
                -0.15,
                False,
                "%",
            )
        ],
    )
    above = (plugin.size - base_image) / (recipe.size - base_image) - 1
    figure.notes.append(
        f"Above the base image: plugin {plugin.size - base_image:.0f} MB, baseline "
        f"{recipe.size - base_image:.0f} MB ({above * 100:+.1f} %); compressed, "
        f"{(plugin.compressed / recipe.compressed - 1) * 100:+.1f} %."
    )
    figure.breakdowns["plugin image, layers above the base (uncompressed)"] = plugin.above_base
    figure.breakdowns["baseline image, layers above the base (uncompressed)"] = recipe.above_base
    for name, venvs in (("plugin", plugin.venvs), ("baseline", recipe.venvs)):
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
