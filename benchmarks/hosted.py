"""The hosted-runner benchmark: whole pipelines as hosted CI runs them, every job on a new machine.

    .venv/bin/python -m benchmarks.hosted --index-url URL [--runs N] [--large-runs N]

URL is a PEP 503 simple index of PyPI (given at run time, never written to a file). Writes
benchmarks/HOSTED.md. See benchmarks/README.md ("The hosted-runner benchmark") for the model:
each job on a new machine (empty image store and caches, hosted_model.MACHINE_START before its
first command), the registries and the index behind a throttling proxy (two settings), the CI
cache's transfer modelled from its measured size.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import time

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.fixtures.locks.generate import Poetry
from tests.recipes.images import extract_uv
from tests.support.base_images import ROOTFS_TARBALLS
from tests.support.base_images import push_base_image
from tests.support.registry import Registry

from benchmarks import baseline
from benchmarks import hosted_jobs as jobs
from benchmarks.bench import log
from benchmarks.bump import BUMPS
from benchmarks.bump import prepare_bumps
from benchmarks.engine import BASE_REPOSITORY
from benchmarks.engine import BASE_TAG
from benchmarks.engine import PLATFORMS
from benchmarks.hosted_model import KINDS
from benchmarks.hosted_model import SETTINGS
from benchmarks.hosted_model import WAYS
from benchmarks.hosted_model import Key
from benchmarks.hosted_model import PipelineRun
from benchmarks.hosted_model import Results
from benchmarks.hosted_model import failure
from benchmarks.hosted_report import Facts
from benchmarks.hosted_report import calibrate
from benchmarks.hosted_report import render
from benchmarks.machine import LoadMonitor
from benchmarks.machine import machine_facts
from benchmarks.mirror import IndexMirror
from benchmarks.throttle import UNLIMITED
from benchmarks.throttle import Link
from benchmarks.throttle import ThrottleProxy
from benchmarks.timing import CommandFailed
from benchmarks.timing import run
from benchmarks.workspace import BENCHMARKS
from benchmarks.workspace import REQUIREMENTS
from benchmarks.workspace import ROOT
from benchmarks.workspace import Workspace
from benchmarks.workspace import make_venv
from benchmarks.workspace import plugin_source
from benchmarks.workspace import tool_env
from benchmarks.workspace import working_copy


if TYPE_CHECKING:
    from collections.abc import Iterator

    from benchmarks.bump import BumpProject
    from benchmarks.hosted_model import JobRun
    from benchmarks.mirror import Miss
    from benchmarks.workspace import PoetryVenv


STATE = Path("/var/tmp/poetry-ci-image-hosted")  # the index mirror, the base's root file systems
TEST_STATE = Path("/var/tmp/poetry-ci-image")  # .ci/engine's, where the root file systems are made
SAVED = BENCHMARKS / "work" / "hosted-last-run.pickle"
UV_VERSION = "0.13.9"
PROJECTS = ("webservice", "large")
DEFAULT_WAYS = ("plugin", "dockerfile", "no-image-uv")  # the pipeline benchmark's three
LARGE_WAYS = DEFAULT_WAYS  # the heavy lock's (each of its pipelines takes minutes)
SMOKE = {
    "webservice": "import fastapi, pandas, sqlalchemy  # noqa: F401, E401",
    "large": "import boto3, django, pandas, sklearn  # noqa: F401, E401",
}


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.render_again:
        facts, results = pickle.loads(SAVED.read_bytes())
        return _write(arguments, facts, results)
    started = time.perf_counter()
    load = LoadMonitor()  # from the start: the setup's load says what the machine is doing
    load.start()
    workspace = Workspace(BENCHMARKS / "work")
    workspace.prepare()
    work = workspace.fresh("hosted")
    source, plugin_commit = plugin_source(workspace, None)
    if arguments.plugin_tree is not None:  # a candidate change, measured before it is committed
        source, plugin_commit = arguments.plugin_tree.resolve(), str(arguments.plugin_tree)
    host = make_venv(workspace, "with-plugin", requirements=source / REQUIREMENTS, plugin=source)
    poetry_version = Poetry.at(str(host.poetry)).version
    wheel = _plugin_wheel(work, host.python, source)
    mirror = IndexMirror(STATE / "index", arguments.index_url, local=[wheel])
    with (
        mirror,
        Registry(work / "hub") as hub,
        Registry(work / "registry") as registry,
        ThrottleProxy(
            {
                "index": ("127.0.0.1", mirror.port),
                "hub": ("127.0.0.1", hub.port),
                "registry": ("127.0.0.1", registry.port),
            }
        ) as proxy,
    ):
        index_url = f"http://127.0.0.1:{proxy.port('index')}/simple/"
        log("the base, pushed to the registry that plays Docker Hub")
        base = push_base_image(hub.host, BASE_REPOSITORY, BASE_TAG, _rootfs())
        hub_via_proxy = f"127.0.0.1:{proxy.port('hub')}"
        uv = _uv(work, host.python, index_url)
        log("the projects' working copies, and the previous commit of the bot's bump")
        copies = [_project(name, workspace, index_url, host) for name in arguments.projects]
        calibrations = [
            calibrate(proxy, setting, hub_via_proxy, base.platforms["linux/amd64"].layer_digest)
            for setting in _settings(arguments)
        ]

        @contextmanager
        def unthrottled() -> Iterator[None]:
            link = proxy.link
            proxy.set_link(UNLIMITED)
            try:
                yield
            finally:
                proxy.set_link(link)

        services = jobs.Services(
            index_url=index_url,
            registry=f"127.0.0.1:{proxy.port('registry')}",
            base=base.reference.replace(hub.host, hub_via_proxy, 1),
            python=Path(sys.base_prefix) / "bin" / "python3.11",
            uv=uv,
            poetry_version=poetry_version,
            plugin_version=wheel.name.split("-")[1],
            machines=STATE / "m",
            unthrottled=unthrottled,
        )
        bench = HostedBench(work, services, proxy, mirror, arguments.test_jobs)
        results = bench.measure(arguments, copies)
        results.failures.update(bench.failures)
    facts = Facts(
        command=_command(arguments),
        minutes=(time.perf_counter() - started) / 60,
        runs=arguments.runs,
        large_runs=arguments.large_runs,
        large_ways=tuple(arguments.large_ways),
        large_settings=tuple(arguments.large_settings),
        test_jobs=arguments.test_jobs,
        machine=machine_facts(None, poetry_version, plugin_commit, load.stop(), base_size=None),
        versions=_versions(services),
        calibrations=tuple(calibrations),
        bump=f"{copies[0].bump.bump.package} {copies[0].bump.bump.previous} -> "
        f"{copies[0].bump.version}",
        missed=tuple(f"{miss.job}: {miss.what}" for miss in bench.measured_misses),
        partial=not set(DEFAULT_WAYS) <= set(arguments.ways)
        or set(arguments.projects) != set(PROJECTS)
        or len(arguments.settings) != len(SETTINGS),
    )
    SAVED.write_bytes(pickle.dumps((facts, results)))
    return _write(arguments, facts, results)


def _write(arguments: argparse.Namespace, facts: Facts, results: Results) -> int:
    if facts.missed:
        log("the index mirror lacked files during measured jobs (they waited on the real index;")
        log("the report lists them; a run again finds them in the mirror):")
        for line in facts.missed[:20]:
            log(f"  {line}")
    text = render(results, facts)
    index_host = (arguments.index_url.split("//", 1)[-1].split("/", 1)[0]).lower()
    if index_host and index_host in text.lower():
        raise SystemExit(f"HOSTED.md would name {index_host}: refusing to write it")
    if facts.partial:
        output = BENCHMARKS / "work" / "HOSTED-partial.md"
        log(f"a partial run (ways, kinds or settings left out): {output}, not HOSTED.md")
    else:
        output = arguments.output
    output.write_text(text, encoding="utf-8")
    log(f"wrote {output}")
    return 0


@dataclass(frozen=True)
class ProjectCopy:
    name: str
    after: Path  # the committed lock (the bump's)
    bump: BumpProject  # .previous: the working copy with the previous commit's lock


@dataclass
class HostedBench:
    work: Path
    services: jobs.Services
    proxy: ThrottleProxy
    mirror: IndexMirror
    test_jobs: int

    def __post_init__(self) -> None:
        self.measured_misses: list[Miss] = []
        self.failures: dict[Key, str] = {}

    def measure(self, arguments: argparse.Namespace, copies: list[ProjectCopy]) -> Results:
        results = Results()
        ways = [way for way in WAYS if way in arguments.ways]
        for number in range(max(arguments.runs, arguments.large_runs)):
            for setting in _settings(arguments):
                rotation = number % len(ways)
                for way in ways[rotation:] + ways[:rotation]:
                    for copy in copies:
                        large = copy.name == "large"
                        runs = arguments.large_runs if large else arguments.runs
                        if number >= runs or (
                            large
                            and (
                                way not in arguments.large_ways
                                or setting.name not in arguments.large_settings
                            )
                        ):
                            continue
                        pipelines = self.sequence(copy, setting, way, number)
                        for kind, pipeline in pipelines.items():
                            results.add(Key(copy.name, setting.name, kind, way), pipeline)
                            log(
                                f"run {number + 1}, {copy.name}, {setting.name}, {way}, {kind}: "
                                f"{pipeline.total:.1f} s (deps {pipeline.deps_seconds:.1f} s, "
                                f"test {pipeline.slowest.critical:.1f} s)"
                            )
        return results

    def sequence(
        self, copy: ProjectCopy, setting: Link, way: str, number: int
    ) -> dict[str, PipelineRun]:
        """A new project's first pipeline, then a commit that changes no dependency, then a
        bot's bump: its own repository and CI cache, so the first one finds both empty."""
        name = f"{copy.name}-{setting.name}-{way}-{number + 1}"
        series = jobs.Series(
            name, self.work / name, repository=f"{self.services.registry}/bench/{name}"
        )
        pipelines = {}
        for kind in KINDS:
            checkout = self._checkout(copy, way, kind, series)
            self.mirror.job = f"{name}-{kind}"
            self.proxy.set_link(setting)
            try:
                pipelines[kind] = self._pipeline(copy, way, kind, series, checkout)
            except (CommandFailed, RuntimeError) as error:
                said = failure(str(error))
                self.failures[Key(copy.name, setting.name, kind, way)] = said
                log(f"{name}, {kind}: failed ({said})")
                break  # the later pipelines build on this one
            finally:
                self.proxy.set_link(UNLIMITED)
                self.measured_misses += self.mirror.misses_of(self.mirror.job)
        self.mirror.job = "setup"
        shutil.rmtree(series.work / "checkouts", ignore_errors=True)
        return pipelines

    def _pipeline(
        self, copy: ProjectCopy, way: str, kind: str, series: jobs.Series, checkout: Path
    ) -> PipelineRun:
        services, label = self.services, kind
        tests = range(self.test_jobs)
        if way == "plugin":
            bumped = (copy.bump.bump.package, copy.bump.version) if kind == "bot" else None
            warm = None
            if bumped is not None:
                previous = self._checkout(copy, way, "no-change", series)
                warm = jobs.warm_push(services, series, previous, checkout, f"{label}-warm", bumped)
            deps, push, image = jobs.plugin_deps(
                services,
                series,
                checkout,
                f"{label}-deps",
                bumped=bumped,
                keep_home=kind == "first",
            )
            runs = tuple(
                jobs.image_test(services, series, checkout, image, f"{label}-test{i + 1}", way)
                for i in tests
            )
            return PipelineRun(deps, runs, push=push, warm_push=warm)
        if way == "dockerfile":
            built: JobRun | None = None
            if kind == "no-change":  # rules: changes: no deps job; the default branch's image
                image = series.main_image or ""
            else:
                branch = "main" if kind == "first" else "bot"
                built, image = jobs.dockerfile_deps(
                    services, series, checkout, f"{label}-deps", branch
                )
            runs = tuple(
                jobs.image_test(services, series, checkout, image, f"{label}-test{i + 1}", way)
                for i in tests
            )
            return PipelineRun(built, runs)
        archive = series.work / "cache-next.zip"
        runs = tuple(
            jobs.no_image_test(
                services,
                series,
                checkout,
                f"{label}-test{i + 1}",
                uv=way == "no-image-uv",
                save_to=archive if i == 0 else None,
            )
            for i in tests
        )
        series.cache_archive = archive.replace(series.work / jobs.CACHE_ARCHIVE)
        return PipelineRun(None, runs)

    def _checkout(self, copy: ProjectCopy, way: str, kind: str, series: jobs.Series) -> Path:
        """The project at the pipeline's commit, with what the way's recipe adds."""
        source = copy.after if kind == "bot" else copy.bump.previous
        checkout = series.work / "checkouts" / kind
        shutil.rmtree(checkout, ignore_errors=True)
        if way == "dockerfile":
            baseline.prepare_context(
                source, checkout, self.services.poetry_version, self.services.base
            )
            (checkout / ".dockerignore").write_text(".cache/\n*.env\ntests/\n")
        else:
            checkout.mkdir(parents=True)
            for name in ("pyproject.toml", "poetry.lock"):
                shutil.copy2(source / name, checkout / name)
        if way == "plugin":
            with (checkout / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
                pyproject.write(f'\n[tool.poetry-ci-image]\nbase = "{self.services.base}"\n')
        tests = checkout / "tests"
        tests.mkdir()
        (tests / "test_smoke.py").write_text(
            f"def test_the_project_imports() -> None:\n    {SMOKE[copy.name]}\n"
        )
        if kind != "first":
            (tests / "test_more.py").write_text("def test_more() -> None:\n    pass\n")
        return checkout


# --------------------------------------------------------------------------- setup


def _project(name: str, workspace: Workspace, index_url: str, host: PoetryVenv) -> ProjectCopy:
    after = working_copy(name, workspace, index_url=index_url.rstrip("/"), poetry=host)
    env = tool_env(workspace, index_url=index_url, docker_host="unix:///nonexistent.sock")
    (bump,) = prepare_bumps(workspace, after, host, env, bumps=BUMPS[:1])
    return ProjectCopy(name, after, bump)


def _rootfs() -> dict[str, Path]:
    """The bookworm root file systems .ci/engine makes, linked into this benchmark's state (the
    base's compressed layer is cached beside them)."""
    tarballs = {}
    for platform in PLATFORMS:
        name = ROOTFS_TARBALLS[platform, "glibc"]
        ours = STATE / "rootfs" / name
        if not ours.is_file():
            made = TEST_STATE / name
            if not made.is_file():
                raise SystemExit(f"no {platform} root file system at {made}: run .ci/engine")
            ours.parent.mkdir(parents=True, exist_ok=True)
            os.link(made, ours)
        tarballs[platform] = ours
    return tarballs


def _plugin_wheel(work: Path, python: Path, source: Path) -> Path:
    """The plugin's wheel from the working tree (it is not on the index: the mirror adds it)."""
    wheels = work / "wheels"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    command = [str(python), "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    command += ["--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(source)]
    run(command, cwd=ROOT, env=env)
    (wheel,) = wheels.glob("poetry_ci_image-*.whl")
    return wheel


def _uv(work: Path, python: Path, index_url: str) -> Path:
    """uv and uvx, from uv's wheel on the index (through the mirror): the machines' uv."""
    download = work / "uv-wheel"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    command = [str(python), "-m", "pip", "download", "--quiet", "--no-deps"]
    command += ["--only-binary=:all:", "--index-url", index_url, "--dest", str(download)]
    run([*command, f"uv=={UV_VERSION}"], cwd=ROOT, env=env)
    (wheel,) = download.glob("uv-*.whl")
    return extract_uv(wheel, work / "uv")


def _settings(arguments: argparse.Namespace) -> list[Link]:
    return [setting for setting in SETTINGS if setting.name in arguments.settings]


def _versions(services: jobs.Services) -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"

    return {
        "uv (the machines')": first_line([str(services.uv / "uv"), "--version"]),
        "CPython (the machines')": first_line([str(services.python), "--version"]),
        "Docker engine (a new one per job)": first_line(["dockerd", "--version"]),
        "Docker client": first_line(["docker", "--version"]),
    }


def _command(arguments: argparse.Namespace) -> str:
    command = f".venv/bin/python -m benchmarks.hosted --index-url URL --runs {arguments.runs}"
    command += f" --large-runs {arguments.large_runs}"
    if arguments.large_settings != [SETTINGS[0].name]:
        command += f" --large-settings {' '.join(arguments.large_settings)}"
    if set(arguments.ways) != set(DEFAULT_WAYS):
        command += f" --ways {' '.join(arguments.ways)}"
    if set(arguments.large_ways) != set(LARGE_WAYS):
        command += f" --large-ways {' '.join(arguments.large_ways)}"
    if arguments.test_jobs != 1:
        command += f" --test-jobs {arguments.test_jobs}"
    if arguments.plugin_tree is not None:
        command += f" --plugin-tree {arguments.plugin_tree}"
    return command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hosted", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--index-url", required=True, help="a PEP 503 simple index of PyPI")
    parser.add_argument("--runs", type=int, default=3, help="runs of each sequence (default 3)")
    parser.add_argument(
        "--large-runs", type=int, default=1, help="runs of the heavy lock's sequences (default 1)"
    )
    parser.add_argument(
        "--test-jobs", type=int, default=1, help="parallel test jobs per pipeline (default 1)"
    )
    parser.add_argument(
        "--ways",
        nargs="+",
        choices=WAYS,
        default=list(DEFAULT_WAYS),
        help=f"the ways to run (default {' '.join(DEFAULT_WAYS)}; no-image-pip: Poetry by pip)",
    )
    parser.add_argument(
        "--large-ways",
        nargs="+",
        choices=WAYS,
        default=list(LARGE_WAYS),
        help=f"the ways the heavy lock runs (default {' '.join(LARGE_WAYS)})",
    )
    parser.add_argument(
        "--large-settings",
        nargs="+",
        choices=[setting.name for setting in SETTINGS],
        default=[SETTINGS[0].name],
        help=f"the network settings the heavy lock runs in (default {SETTINGS[0].name})",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=[setting.name for setting in SETTINGS],
        default=[setting.name for setting in SETTINGS],
    )
    parser.add_argument("--projects", nargs="+", choices=PROJECTS, default=list(PROJECTS))
    parser.add_argument(
        "--plugin-tree",
        type=Path,
        help="measure the plugin of this source tree (default: this working tree)",
    )
    parser.add_argument(
        "--render-again",
        action="store_true",
        help=f"measure nothing: write the report again from {SAVED.name}",
    )
    parser.add_argument(
        "--output", type=Path, default=BENCHMARKS / "HOSTED.md", help="where to write"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
