"""The pipeline benchmark: GitLab pipelines run by gitlab-ci-local, three recipes, three kinds.

    .venv/bin/python -m benchmarks.pipeline --index-url URL [--runs N]

URL is a PEP 503 simple index of PyPI (given at run time, never written to a file). Writes
benchmarks/PIPELINES.md. See benchmarks/README.md ("The pipeline benchmark") for what is measured.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import time

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import yaml

from tests.fixtures.locks.generate import Poetry
from tests.recipes.images import BASE_IMAGE
from tests.recipes.images import build_helper_image
from tests.recipes.images import build_uv_image
from tests.recipes.images import extract_uv
from tests.support.registry import Registry

from benchmarks import baseline
from benchmarks.bench import log
from benchmarks.bump import prepare_bumps
from benchmarks.engine import BENCH_STATE
from benchmarks.engine import Engine
from benchmarks.engine import push_base
from benchmarks.engine import start_engine
from benchmarks.machine import LoadMonitor
from benchmarks.machine import machine_facts
from benchmarks.profiling import run_streamed
from benchmarks.timing import run
from benchmarks.workspace import BENCHMARKS
from benchmarks.workspace import HOST_CA_BUNDLE
from benchmarks.workspace import REQUIREMENTS
from benchmarks.workspace import ROOT
from benchmarks.workspace import Workspace
from benchmarks.workspace import git
from benchmarks.workspace import make_venv
from benchmarks.workspace import plugin_source
from benchmarks.workspace import tool_env
from benchmarks.workspace import working_copy


if TYPE_CHECKING:
    from benchmarks.profiling import Timeline
    from benchmarks.workspace import PoetryVenv


RECIPE = ROOT / "examples" / "gitlab" / ".gitlab-ci.yml"
WAYS = ("plugin", "dockerfile", "no-image")
KINDS = ("no-change", "bot", "first")
WAY_NAMES = {
    "plugin": "poetry-ci-image, default recipe",
    "dockerfile": "plain Dockerfile recipe",
    "no-image": "no image: `poetry install` in the test job",
}
KIND_NAMES = {
    "no-change": "(a) a commit that changes no dependency",
    "bot": "(b) a bot's commit: one package bumped in poetry.lock only",
    "first": "(c) the first pipeline: empty caches and registry",
}
CA_IN_JOBS = "/etc/ssl/certs/ca-certificates.crt"
NOTES = """\
Reading the figures: one engine runs every job, so an image built or pulled once stays. The
Dockerfile recipe's test job never pulls its image (it was built on that engine, whose layer
cache also serves the next build); the default recipe's test job pulls the image its deps job
pushed, from the loopback registry (Debian's dockerd 20.10 downloads every layer above the
first one it lacks). The index is reached over a fast network, which makes `poetry install` in
the no-image way quick. On GitLab.com's hosted runners every job starts on a new machine and
pulls its image in full; that is not measured here.
"""
# git in the pipelines' projects: a fixed identity, no global or system configuration.
GIT_ENV = {
    **{key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
    "GIT_AUTHOR_NAME": "Pipeline Benchmark",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Pipeline Benchmark",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
SMOKE_TEST = """\
def test_the_service_imports() -> None:
    import fastapi, pandas, sqlalchemy  # noqa: F401, E401
"""


@dataclass(frozen=True)
class Timing:
    """One pipeline, as the runner's output stamps it: deps from the first job's start to the
    test job's start (0 when no deps job ran), test from its start to pytest's "collected"."""

    deps: float
    test: float

    @property
    def total(self) -> float:
        return self.deps + self.test


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    started = time.perf_counter()
    workspace = Workspace(BENCHMARKS / "work")
    workspace.prepare()
    work = workspace.fresh("pipelines")
    load = LoadMonitor()
    load.start()
    index_url = arguments.index_url.rstrip("/")
    log(f"starting the benchmark engine ({arguments.engine_state})")
    engine = Engine(start_engine(arguments.engine_state))
    source, plugin_commit = plugin_source(workspace, None)
    plugin = make_venv(workspace, "with-plugin", requirements=source / REQUIREMENTS, plugin=source)
    poetry_version = Poetry.at(str(plugin.poetry)).version
    webservice = working_copy("webservice", workspace, index_url=index_url, poetry=plugin)
    env = tool_env(workspace, index_url=index_url, docker_host=engine.docker_host)
    log("the previous commit of the bot's bump, locked by Poetry")
    bump = prepare_bumps(workspace, webservice, plugin, env)[0]
    log("the plugin's wheel, uv, and the images the runner needs")
    wheels = _wheels(work, plugin, source, index_url)
    images = _images(engine, wheels, work)
    timings: dict[tuple[str, str], list[Timing]] = {(w, k): [] for w in WAYS for k in KINDS}
    with Registry(workspace.registry) as registry:
        base = push_base(registry.host, arguments.engine_state)
        before, after = bump.previous, webservice
        bench = PipelineBench(
            work,
            engine,
            registry.host,
            base,
            index_url,
            poetry_version,
            wheels,
            images,
            before,
            after,
        )
        for number in range(arguments.runs):
            for way in [w for w in WAYS[number % 3 :] + WAYS[: number % 3] if w in arguments.ways]:
                for kind, timing in bench.sequence(way, number).items():
                    timings[way, kind].append(timing)
                    log(f"run {number + 1}, {way}, {kind}: {timing.deps:.1f} + {timing.test:.1f} s")
    if set(arguments.ways) != set(WAYS):
        log(f"only {', '.join(arguments.ways)}: see the logs in {work}; no PIPELINES.md")
        return 0
    machine = machine_facts(engine, poetry_version, plugin_commit, load.stop(), base_size=None)
    machine["gitlab-ci-local"] = _version(["gitlab-ci-local", "--version"])
    machine["uv (deps job)"] = f"{_version([str(wheels / 'uv'), '--version'])}"
    text = render(
        timings,
        machine=machine,
        runs=arguments.runs,
        minutes=(time.perf_counter() - started) / 60,
        bump=f"{bump.bump.package} {bump.bump.previous} -> {bump.version}",
    )
    host = (index_url.split("//", 1)[-1].split("/", 1)[0]).lower()
    if host in text.lower():
        raise SystemExit(f"PIPELINES.md would name {host}: refusing to write it")
    arguments.output.write_text(text, encoding="utf-8")
    log(f"wrote {arguments.output}")
    return 0


@dataclass
class PipelineBench:
    work: Path
    engine: Engine
    registry_host: str
    base: str
    index_url: str
    poetry_version: str
    wheels: Path
    images: dict[str, str]
    before: Path  # the webservice working copy with the previous commit's lock
    after: Path  # ... with the bumped one

    def sequence(self, way: str, number: int) -> dict[str, Timing]:
        """A new project's first pipeline, then a no-change commit, then a bot's bump; each is
        a merge request against the commit before it. Caches and repository are the project's
        own (named after it), so the first pipeline starts with them empty."""
        project = self.work / f"{way}-{number}"
        self.engine.make_cold(keep=self._kept())
        self._write_project(project, way)
        _git(project, "init", "--quiet", "--initial-branch", "main")
        _git(project, "remote", "add", "origin", f"https://gitlab.example/bench/{project.name}.git")
        _git(project, "commit", "--quiet", "--allow-empty", "--message", "Empty")
        timings = {}
        for kind in ("first", "no-change", "bot"):
            _git(project, "update-ref", "refs/remotes/origin/main", "HEAD")
            _git(project, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
            if kind == "no-change":
                (project / "tests" / "test_more.py").write_text(
                    "def test_more() -> None:\n    pass\n"
                )
            if kind == "bot":
                shutil.copy2(self.after / "poetry.lock", project / "poetry.lock")
            _git(project, "add", "--all")
            _git(project, "commit", "--quiet", "--message", kind)
            changed = _git(project, "show", "--name-only", "--format=", "HEAD").split()
            if kind == "bot" and changed != ["poetry.lock"]:
                raise SystemExit(f"the bot's commit changed {changed}, not poetry.lock alone")
            timings[kind] = self._pipeline(project, self.work / f"{project.name}-{kind}.log")
        self._remove_caches(project.name)
        return timings

    def _kept(self) -> tuple[str, ...]:
        """The runner's images and the layers of their builds (an engine keeps them as parents)."""
        kept = []
        for name in self.images.values():
            image = self.engine.api.inspect_image(name)
            while image:
                kept.append(str(image["Id"]))
                parent = image.get("Parent")
                image = self.engine.api.inspect_image(parent) if parent else None
        return tuple(kept)

    def _write_project(self, project: Path, way: str) -> None:
        project.mkdir(parents=True)
        for name in ("pyproject.toml", "poetry.lock"):
            shutil.copy2(self.before / name, project / name)
        (project / "tests").mkdir()
        (project / "tests" / "test_smoke.py").write_text(SMOKE_TEST)
        ignored = ".gitlab-ci-local/\n.cache/\n*.env\n"
        (project / ".gitignore").write_text(ignored)
        if way == "plugin":
            with (project / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
                pyproject.write(f'\n[tool.poetry-ci-image]\nbase = "{self.base}"\n')
            recipe = yaml.safe_load(RECIPE.read_text())
            for key in ("parallel", "tags"):  # one test job, on this amd64 engine
                recipe["test"].pop(key)
        elif way == "dockerfile":
            context = baseline.prepare_context(
                project, self.work / "context", self.poetry_version, self.base
            )
            for name in ("Dockerfile", baseline.CA_FILE):
                shutil.copy2(context / name, project / name)
            (project / ".dockerignore").write_text(ignored + ".git/\ntests/\n")
            recipe = _dockerfile_recipe()
        else:
            recipe = _no_image_recipe(self.images["uv"], self.poetry_version)
        (project / ".gitlab-ci.yml").write_text(yaml.safe_dump(recipe, sort_keys=False))

    def _pipeline(self, project: Path, log: Path) -> Timing:
        """Run the pipeline (a failed one stops the benchmark: every pipeline must be green);
        its output, each line stamped, goes to `log`."""
        timeline = run_streamed(self._runner(), cwd=project, env=self._runner_env())
        log.write_text("".join(f"{seconds:7.2f} {line}\n" for seconds, line in timeline.lines))
        return timing_of(timeline)

    def _runner(self) -> list[str]:
        variables = {
            "CI_REGISTRY": self.registry_host,
            "UV_DEFAULT_INDEX": self.index_url,
            "UV_FIND_LINKS": "/wheels",  # the plugin is not on the index: its wheel, built here
            "PIP_INDEX_URL": self.index_url,
            "SSL_CERT_FILE": CA_IN_JOBS,
            "REQUESTS_CA_BUNDLE": CA_IN_JOBS,
            "PIP_CERT": CA_IN_JOBS,
        }
        command = ["gitlab-ci-local", "--no-color", "--helper-image", self.images["helper"]]
        command += ["--network", "host", "--mount-cache", "--pull-policy", "if-not-present"]
        command += ["--volume", f"{self.wheels}:/wheels:ro"]
        command += ["--volume", f"{HOST_CA_BUNDLE}:{CA_IN_JOBS}:ro"]
        for name, value in variables.items():
            command += ["--variable", f"{name}={value}"]
        return command

    def _runner_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "POETRY_"))}
        env.update(DOCKER_HOST=self.engine.docker_host, DOCKER_BUILDKIT="0")
        env["DOCKER_CONFIG"] = str(self.work / "docker-config")
        return env

    def _remove_caches(self, name: str) -> None:
        for volume in self.engine.api.volumes().get("Volumes") or []:
            if volume["Name"].startswith(f"gcl-bench-{name}"):
                self.engine.api.remove_volume(volume["Name"], force=True)


def _git(project: Path, *args: str) -> str:
    return git(project, *args, env=GIT_ENV)


def timing_of(timeline: Timeline) -> Timing:
    """The deps and test parts from gitlab-ci-local's lines, as the host received them."""
    starts: dict[str, float] = {}
    collected = None
    for seconds, line in timeline.lines:
        words = line.split()
        if len(words) > 1 and words[1] == "starting":
            starts.setdefault(words[0], seconds)
        if words[:1] == ["test"] and "collected" in words and collected is None:
            collected = seconds
    if "test" not in starts or collected is None:
        raise SystemExit(
            "the test job did not start its tests:\n"
            + "\n".join(line for _, line in timeline.lines[-30:])
        )
    first = min(starts.values())
    return Timing(deps=starts["test"] - first, test=collected - starts["test"])


def _dockerfile_recipe() -> dict[str, Any]:
    """The plain recipe: deps builds and pushes the image, tagged by the md5 of its inputs, only
    when they change; the test jobs run in it, else in the default branch's image."""
    inputs = " ".join(baseline.MD5_INPUTS)
    image = "$CI_REGISTRY_IMAGE/deps"
    return {
        "stages": ["deps", "test"],
        "variables": {"CI_IMAGE": f"{image}:main"},
        "deps": {
            "stage": "deps",
            "rules": [{"changes": list(baseline.MD5_INPUTS)}],
            "script": [
                f"TAG=$(cat {inputs} | md5sum | cut -c1-32)",
                f'docker build --build-arg PIP_INDEX_URL --tag "{image}:$TAG" .',
                f'docker push "{image}:$TAG"',
                f'docker tag "{image}:$TAG" "{image}:$CI_COMMIT_REF_SLUG"',
                f'docker push "{image}:$CI_COMMIT_REF_SLUG"',
                f'echo "CI_IMAGE={image}:$TAG" > deps.env',
            ],
            "artifacts": {"reports": {"dotenv": "deps.env"}},
        },
        "test": {
            "stage": "test",
            "needs": [{"job": "deps", "optional": True}],
            "image": "$CI_IMAGE",
            "script": ["pytest"],
        },
    }


def _no_image_recipe(uv_image: str, poetry_version: str) -> dict[str, Any]:
    """No CI image: Poetry (installed by uv) installs the lock in the test job, from Poetry's
    cache kept by the CI cache."""
    return {
        "stages": ["test"],
        "test": {
            "stage": "test",
            "image": uv_image,
            "variables": {
                "POETRY_VERSION": poetry_version,
                "UV_CACHE_DIR": "$CI_PROJECT_DIR/.cache/uv",
                "POETRY_CACHE_DIR": "$CI_PROJECT_DIR/.cache/pypoetry",
                "POETRY_VIRTUALENVS_IN_PROJECT": "true",
            },
            "cache": [
                {"key": "uv", "paths": [".cache/uv"]},
                {"key": "poetry", "paths": [".cache/pypoetry"]},
            ],
            "script": [
                'uvx --from "poetry==$POETRY_VERSION" poetry install --no-interaction',
                ".venv/bin/pytest",
            ],
        },
    }


def _wheels(work: Path, plugin: PoetryVenv, source: Path, index_url: str) -> Path:
    """A find-links directory with the plugin's wheel (not on the index), and uv and uvx."""
    wheels = work / "wheels"
    wheels.mkdir()
    python = str(plugin.python)
    quiet = ["--quiet", "--disable-pip-version-check"]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    run(
        [
            python,
            "-m",
            "pip",
            "wheel",
            *quiet,
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        cwd=ROOT,
        env=env,
    )
    download = work / "uv-wheel"
    run(
        [
            python,
            "-m",
            "pip",
            "download",
            *quiet,
            "--no-deps",
            "--only-binary=:all:",
            "--index-url",
            index_url,
            "--dest",
            str(download),
            "uv==0.13.9",
        ],
        cwd=ROOT,
        env=env,
    )
    (wheel,) = download.glob("uv-*.whl")
    extract_uv(wheel, wheels)
    return wheels


def _images(engine: Engine, wheels: Path, work: Path) -> dict[str, str]:
    import docker

    client = docker.DockerClient(base_url=engine.docker_host, version="auto")
    uv = str(yaml.safe_load(RECIPE.read_text())["deps"]["image"])
    return {
        "base": BASE_IMAGE,
        "uv": build_uv_image(client, wheels, work / "uv-image", uv),
        "helper": build_helper_image(client, work / "helper-image"),
    }


def _version(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"


# --------------------------------------------------------------------------- PIPELINES.md


def render(
    timings: dict[tuple[str, str], list[Timing]],
    *,
    machine: dict[str, str],
    runs: int,
    minutes: float,
    bump: str,
) -> str:
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Pipeline benchmark: the whole GitLab pipeline, until the first test runs",
        "",
        f"Written by `{_command(runs)}` on {date} ({minutes:.0f} min). What is measured and how:",
        "[README.md](README.md#the-pipeline-benchmark). Seconds from the first job's start to",
        "the line pytest prints right before the first test (`collected N items`), as",
        "gitlab-ci-local prints them, split into the deps part (until the test job starts) and",
        "the test job's part; medians of "
        f"{runs} runs, lowest-highest in brackets. The bot's bump: {bump}.",
        "",
        "| pipeline | recipe | until the first test | deps part | test job part |",
        "|---|---|---|---|---|",
    ]
    for kind in KINDS:
        for way in WAYS:
            samples = timings[way, kind]
            lines.append(
                f"| {KIND_NAMES[kind]} | {WAY_NAMES[way]} | {_spread([t.total for t in samples])}"
                f" | {_spread([t.deps for t in samples])} | {_spread([t.test for t in samples])} |"
            )
    lines += ["", *NOTES.splitlines()]
    lines += ["", "## Goals", "", "| goal | measured | verdict |", "|---|---|---|"]
    lines += [f"| {goal} | {measured} | {verdict} |" for goal, measured, verdict in goals(timings)]
    lines += ["", "## Machine and versions", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in machine.items()]
    return "\n".join(lines) + "\n"


def goals(timings: dict[tuple[str, str], list[Timing]]) -> list[tuple[str, str, str]]:
    def median(way: str, kind: str) -> float:
        return statistics.median(t.total for t in timings[way, kind])

    rows = []
    plugin, plain = median("plugin", "no-change"), median("dockerfile", "no-change")
    rows.append(
        (
            "(a) within 5 s of the Dockerfile recipe's",
            f"{plugin - plain:+.1f} s",
            _verdict(plugin - plain <= 5),
        )
    )
    for kind, factor in (("bot", 5), ("first", 3)):
        ratio = median("dockerfile", kind) / median("plugin", kind)
        rows.append(
            (
                f"{KIND_NAMES[kind][:3]} at least {factor}x faster than the Dockerfile recipe's",
                f"{ratio:.1f}x",
                _verdict(ratio >= factor),
            )
        )
    rows.append(("(b) green with no person involved", "every run green", "met"))
    for kind in KINDS:
        ratio = median("no-image", kind) / median("plugin", kind)
        rows.append(
            (
                f"{KIND_NAMES[kind][:3]} faster than the no-image way",
                f"{ratio:.1f}x",
                _verdict(ratio > 1),
            )
        )
    return rows


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s ({min(values):.1f}-{max(values):.1f})"


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def _command(runs: int) -> str:
    return f".venv/bin/python -m benchmarks.pipeline --index-url URL --runs {runs}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--index-url", required=True, help="a PEP 503 simple index of PyPI")
    parser.add_argument("--runs", type=int, default=3, help="runs of each sequence (default 3)")
    parser.add_argument("--engine-state", default=BENCH_STATE, help="the benchmark engine's state")
    parser.add_argument(
        "--ways",
        nargs="+",
        choices=WAYS,
        default=list(WAYS),
        help="the recipes to run (default all; with fewer, PIPELINES.md cannot be written)",
    )
    parser.add_argument(
        "--output", type=Path, default=BENCHMARKS / "PIPELINES.md", help="where to write"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
