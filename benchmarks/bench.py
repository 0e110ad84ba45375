"""What every figure uses: the projects, the venvs, the engine, the registry, timed commands."""

from __future__ import annotations

import time

from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks import baseline
from benchmarks.profiling import profile_command
from benchmarks.push_record import read_push_record
from benchmarks.results import Check
from benchmarks.timing import Samples
from benchmarks.timing import alternate
from benchmarks.timing import paired_ratio
from benchmarks.timing import run
from benchmarks.timing import timed


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Sequence
    from pathlib import Path

    from benchmarks.engine import Engine
    from benchmarks.profiling import Timeline
    from benchmarks.push_record import PushLog
    from benchmarks.results import ProfileRow
    from benchmarks.workspace import PoetryVenv
    from benchmarks.workspace import Workspace


ONE_PLATFORM = ("linux/amd64",)


@dataclass(frozen=True)
class Repeats:
    builds: int  # image builds and pushes (seconds to tens of seconds each)
    pairs: int  # alternated pairs of sub-second-to-seconds commands


@dataclass(frozen=True)
class Bench:
    workspace: Workspace
    env: dict[str, str]
    plugin: PoetryVenv  # Poetry with the plugin
    plain: PoetryVenv  # the same Poetry without it
    engine: Engine
    registry_host: str
    base: str  # the base image, in the registry: `host/library/python:3.11-slim-bookworm`
    index_url: str
    poetry_version: str
    webservice: Path
    large: Path
    repeats: Repeats
    build_network: str | None = None  # the baseline's `docker build --network`: None, the bridge

    def repository(self, project: Path, suffix: str = "") -> str:
        """The plugin's image repository for the project; `suffix` names a fresh one."""
        return f"{self.registry_host}/bench/{project.name}{suffix}"

    def baseline_repository(self, project: Path, suffix: str = "") -> str:
        return f"{self.registry_host}/bench/{project.name}-baseline{suffix}"

    def build_baseline(self, context: Path, reference: str) -> Timeline:
        """The baseline's `docker build` of `context`, tagged `reference`, timed by its lines."""
        return baseline.build(
            context, reference, index_url=self.index_url, env=self.env, network=self.build_network
        )

    def image_args(
        self,
        project: Path,
        repository: str | None = None,
        platforms: Sequence[str] = ONE_PLATFORM,
    ) -> list[str]:
        """The plugin's options: a repository of the benchmark's registry, the base there."""
        return [
            "--repository",
            repository or self.repository(project),
            "--base",
            self.base,
            "--platform",
            ",".join(platforms),
        ]

    def push(
        self,
        project: Path,
        repository: str,
        platforms: Sequence[str] = ONE_PLATFORM,
        *options: str,
    ) -> PushLog:
        """One `poetry image push --json` to `repository` (with `options`): its steps, as it
        reports them."""
        seconds, done = timed(
            [
                str(self.plugin.poetry),
                "--no-ansi",
                "image",
                "push",
                "--json",
                *self.image_args(project, repository, platforms),
                *options,
            ],
            cwd=project,
            env=self.env,
        )
        return read_push_record(done.stdout, seconds)

    def poetry(self, venv: PoetryVenv, project: Path, *args: str) -> float:
        """Seconds of one `poetry <args>` in `project` (the command must succeed)."""
        seconds, _ = timed([str(venv.poetry), "--no-ansi", *args], cwd=project, env=self.env)
        return seconds

    def poetry_cold(self, venv: PoetryVenv, project: Path, *args: str) -> float:
        """`poetry(...)` on a fresh runner: Poetry's and pip's caches emptied first (not timed)."""
        self.workspace.empty_host_caches()
        return self.poetry(venv, project, *args)

    def poetry_output(self, venv: PoetryVenv, project: Path, *args: str) -> str:
        """What one `poetry <args>` in `project` prints on stdout (`--json` reports, a tag)."""
        return run([str(venv.poetry), "--no-ansi", *args], cwd=project, env=self.env).stdout

    def profile(
        self, project: Path, name: str, args: Sequence[str], *, fresh: bool = False
    ) -> list[ProfileRow]:
        """One run of `poetry <args>` under cProfile; `fresh`: with the host's caches emptied."""
        if fresh:
            self.workspace.empty_host_caches()
        return profile_command(
            self.plugin.python,
            self.plugin.poetry,
            ["--no-ansi", *args],
            cwd=project,
            env=self.env,
            out=self.workspace.profiles / f"{project.name}-{name}.prof",
        )

    def reference(self, project: Path, repository: str | None = None) -> str:
        """What `poetry image tag` prints for the project."""
        stdout = self.poetry_output(
            self.plugin, project, "image", "tag", *self.image_args(project, repository)
        )
        return stdout.strip()


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def alternated(commands: Sequence[Callable[[], float]], rounds: int) -> list[Samples]:
    """Each command's seconds over `rounds` rotating rounds, after one untimed run of each."""
    for command in commands:
        command()
    runs = alternate(commands, rounds)
    return [Samples(tuple(run[index] for run in runs)) for index in range(len(commands))]


def pairs(first: Samples, second: Samples) -> list[tuple[float, float]]:
    """The runs of two alternated commands, round by round."""
    return list(zip(first.values, second.values, strict=True))


def paired_check(
    goal: str, first: Samples, second: Samples, *, at_most: float, shown_as: str = "x"
) -> Check:
    """The goal that `first` stay within `at_most` of `second`, two commands alternated: the
    median of their per-round ratios (timing.paired_ratio)."""
    return Check(goal, paired_ratio(pairs(first, second)), at_most, False, shown_as)


def within_version(command: str, kept: Samples, fresh: Samples, version: Samples) -> list[Check]:
    """The goals of a command run with Poetry's cache kept and on a fresh runner, each
    alternated with `poetry --version`: within 1.5x of it either way."""
    return [
        paired_check(
            f"{command} ({runner}) within 1.5x of `poetry --version`", runs, version, at_most=1.5
        )
        for runner, runs in (("cache kept", kept), ("fresh runner", fresh))
    ]


def rotated(count: int, index: int) -> list[int]:
    """0..count-1 starting at a different one each round, so that none always goes first."""
    shift = index % count
    return [*range(shift, count), *range(shift)]
