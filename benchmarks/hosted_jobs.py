"""The jobs of the hosted-runner benchmark's three ways, each on a new machine, timed by command.

Each function makes the machines its job needs (machines.py: an empty HOME, a new engine when
the job runs containers), runs the job's commands as the recipe's script would, timing each
line of their output as it arrives (profiling.run_streamed), and returns what it measured
(hosted_model.JobRun: the parts, in order). A test job ends at pytest's `collected N items`, the
line right before its first test. The commands reach the registries and the index only through
the throttling proxy (the addresses in `Services`). Every command's output is kept in the
sequence's log directory.
"""

from __future__ import annotations

import shutil
import subprocess

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks import baseline
from benchmarks.history import holding
from benchmarks.hosted_model import JobRun
from benchmarks.hosted_model import Part
from benchmarks.hosted_model import PushFacts
from benchmarks.hosted_model import cache_transfer
from benchmarks.machines import CHECKOUT
from benchmarks.machines import Machine
from benchmarks.profiling import run_streamed
from benchmarks.push_record import read_push_record


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator
    from collections.abc import Sequence
    from contextlib import AbstractContextManager
    from pathlib import Path

    from benchmarks.profiling import Timeline


UV_RUNS = "DEBUG Running `"  # `uvx -v`: the environment is ready, the tool starts
PYTEST_STARTS = "test session starts"
CACHE_ARCHIVE = "cache.zip"
POETRY_CACHE = ".cache/pypoetry"  # the no-image recipe's POETRY_CACHE_DIR, in the checkout


@dataclass(frozen=True)
class Services:
    """What every job is given: addresses through the proxy, the machine's tools, versions."""

    index_url: str  # the index mirror's simple URL
    registry: str  # host:port of the project's registry
    base: str  # the base image's reference, in the other registry ("Docker Hub")
    python: Path  # the machines' CPython 3.11
    uv: Path  # a directory with uv and uvx
    poetry_version: str
    plugin_version: str
    machines: Path  # where machines are made
    unthrottled: Callable[[], AbstractContextManager[None]]  # the link without limits meanwhile


@dataclass
class Series:
    """One project's pipelines under one way in one network setting: its own repository and
    CI cache, and its logs."""

    name: str
    work: Path
    repository: str  # the project's CI_REGISTRY_IMAGE
    cache_archive: Path | None = None  # the no-image way's CI cache, from the previous pipeline
    warm_home: Path | None = None  # the plugin's deps runner's HOME after the first pipeline
    main_image: str | None = None  # the Dockerfile recipe's default-branch image

    def log(self, name: str, timeline: Timeline) -> None:
        logs = self.work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        lines = (f"{seconds:8.3f} {line}\n" for seconds, line in timeline.lines)
        (logs / f"{name}.log").write_text("".join(lines) + f"{timeline.seconds:8.3f} (exit)\n")


@contextmanager
def _machine(
    services: Services,
    name: str,
    project: Path,
    env: dict[str, str],
    *,
    engine: bool,
    pip: bool = False,
    home: Path | None = None,
) -> Iterator[Machine]:
    """A new machine with `project` checked out, removed after the job."""
    machine = Machine(
        services.machines / name, services.python, services.uv, with_engine=engine, system_pip=pip
    )
    try:
        yield machine.start(project, env, home)
    finally:
        machine.stop()


def _index_env(services: Services) -> dict[str, str]:
    return {"UV_DEFAULT_INDEX": services.index_url, "PIP_INDEX_URL": services.index_url}


# --------------------------------------------------------------------------- the plugin


def plugin_deps(
    services: Services,
    sequence: Series,
    checkout: Path,
    label: str,
    *,
    bumped: tuple[str, str] | None = None,
    keep_home: bool = False,
) -> tuple[JobRun, PushFacts, str]:
    """The default recipe's deps job: `uvx ... poetry image push --dotenv` (with `--json`, to a
    file, for the plugin's own step timings). Returns the job, the push, and CI_IMAGE."""
    env = {
        **_index_env(services),
        "CI_REGISTRY": services.registry,
        "CI_REGISTRY_IMAGE": sequence.repository,
    }
    with _machine(services, "deps", checkout, env, engine=False) as machine:
        job, push, image = _push(services, sequence, machine, label, bumped)
        if keep_home:
            kept = sequence.work / "warm-home"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(machine.home, kept, symlinks=True)
            sequence.warm_home = kept
    return job, push, image


def warm_push(
    services: Services,
    sequence: Series,
    before: Path,
    after: Path,
    label: str,
    bumped: tuple[str, str],
) -> PushFacts:
    """The same bump on a runner that kept its caches (those of the first pipeline's deps job),
    to a repository of its own holding the previous image (pushed first, not timed)."""
    if sequence.warm_home is None:
        raise RuntimeError("no warm runner: the first pipeline keeps its deps job's HOME")
    env = {
        **_index_env(services),
        "CI_REGISTRY": services.registry,
        "CI_REGISTRY_IMAGE": f"{sequence.repository}-warm",
    }
    with _machine(services, "warm", before, env, engine=False, home=sequence.warm_home) as machine:
        with services.unthrottled():
            _push(services, sequence, machine, f"{label}-previous", None)
        shutil.copy2(after / "poetry.lock", machine.checkout / "poetry.lock")
        _, push, _ = _push(services, sequence, machine, label, bumped)
    return push


def _push(
    services: Services,
    sequence: Series,
    machine: Machine,
    label: str,
    bumped: tuple[str, str] | None,
) -> tuple[JobRun, PushFacts, str]:
    script = (
        f'uvx -v --from "poetry=={services.poetry_version}" '
        f'--with "poetry-ci-image=={services.plugin_version}" '
        "poetry image push --dotenv ci-image.env --json > push.json"
    )
    timeline = run_streamed(["sh", "-c", script], cwd=machine.checkout, env=machine.env)
    sequence.log(label, timeline)
    uv = _offset(timeline, lambda line: line.startswith(UV_RUNS))
    record = read_push_record((machine.checkout / "push.json").read_text(), timeline.seconds - uv)
    parts = (
        Part("uv: fetch and install Poetry and the plugin", uv),
        *(Part(segment.label, segment.value) for segment in record.parts),
    )
    summary = record.summary
    blobs = (
        f"{summary.uploaded} uploaded ({summary.uploaded_mb:.2f} MB), {summary.mounted} mounted, "
        f"{summary.copied} copied, {summary.present} present"
        if summary is not None
        else "nothing pushed: the registry had the tag"
    )
    changed = holding(record.layers, *bumped).size if bumped is not None and record.pushed else None
    push = PushFacts(
        seconds=timeline.seconds - uv,
        pushed=record.pushed,
        uploaded=summary.uploaded_mb * 1e6 if summary is not None else 0.0,
        blobs=blobs,
        changed_layer=changed,
    )
    dotenv = (machine.checkout / "ci-image.env").read_text().strip()
    return JobRun(parts), push, dotenv.removeprefix("CI_IMAGE=")


# --------------------------------------------------------------------------- the Dockerfile


def dockerfile_deps(
    services: Services, sequence: Series, checkout: Path, label: str, branch: str
) -> tuple[JobRun, str]:
    """The plain recipe's deps job on a fresh docker-in-docker engine: `docker build` (the
    base pulled, no build cache), `docker push`, then the branch's tag pushed too."""
    image = f"{sequence.repository}/deps"
    reference = f"{image}:{baseline.md5_tag(checkout)}"
    with _machine(services, "deps", checkout, {}, engine=True) as machine:
        build = run_streamed(
            [
                "docker",
                "build",
                "--network",
                "host",
                "--build-arg",
                f"PIP_INDEX_URL={services.index_url}",
                "--tag",
                reference,
                ".",
            ],
            cwd=machine.checkout,
            env=machine.env,
        )
        sequence.log(f"{label}-build", build)
        push = run_streamed(["docker", "push", reference], cwd=machine.checkout, env=machine.env)
        sequence.log(f"{label}-push", push)
        branch_reference = f"{image}:{branch}"
        script = (
            f'docker tag "{reference}" "{branch_reference}" && docker push "{branch_reference}"'
        )
        tag = run_streamed(["sh", "-c", script], cwd=machine.checkout, env=machine.env)
        sequence.log(f"{label}-branch", tag)
    parts = [Part(segment.label, segment.value) for segment in baseline.build_parts(build)]
    parts += [
        Part("docker push: compress, upload", push.seconds),
        Part("docker tag, push the branch's tag", tag.seconds),
    ]
    if branch == "main":
        sequence.main_image = branch_reference
    return JobRun(tuple(parts)), reference


# The test job's script in the image of each way, and the parts of its run up to pytest's
# `collected` line: each part's name and the text of the line it starts at.
IMAGE_TESTS = {
    "plugin": (
        "poetry install && pytest",
        (("container start, `poetry install`", None), ("pytest: start, collect", PYTEST_STARTS)),
    ),
    "dockerfile": ("pytest", (("container start, pytest: start, collect", None),)),
}


def image_test(
    services: Services, sequence: Series, checkout: Path, image: str, label: str, way: str
) -> JobRun:
    """A test job in the way's image: pulled by a new engine, then its script in a container
    (the checkout mounted, as the runner does)."""
    script, marks = IMAGE_TESTS[way]
    with _machine(services, "test", checkout, {}, engine=True) as machine:
        pull = run_streamed(["docker", "pull", image], cwd=machine.checkout, env=machine.env)
        sequence.log(f"{label}-pull", pull)
        command = ["docker", "run", "--rm", "--network", "host", "-e", "PYTHONUNBUFFERED=1"]
        command += ["-v", f"{machine.checkout}:/builds/project", "-w", "/builds/project"]
        run = run_streamed(
            [*command, image, "sh", "-c", script], cwd=machine.checkout, env=machine.env
        )
        sequence.log(f"{label}-run", run)
    return JobRun((Part("docker pull: the test image", pull.seconds), *until_collected(run, marks)))


# --------------------------------------------------------------------------- no image


def no_image_test(
    services: Services,
    sequence: Series,
    checkout: Path,
    label: str,
    *,
    uv: bool,
    save_to: Path | None,
) -> JobRun:
    """The test job of the no-image way on the machine itself: the CI cache (Poetry's cache)
    restored when there is one, Poetry installed (by uv or by pip), `poetry install`, pytest.
    With `save_to`, the job's Poetry cache is zipped there, as GitLab's runner archives a
    cache (not timed: after the tests), for the next pipeline."""
    env = {
        **_index_env(services),
        "POETRY_VIRTUALENVS_IN_PROJECT": "true",
        "POETRY_CACHE_DIR": "",  # set below, in the checkout
    }
    parts: list[Part] = []
    restore, size = 0.0, 0
    env["POETRY_CACHE_DIR"] = str(services.machines / "test" / CHECKOUT / POETRY_CACHE)
    with _machine(services, "test", checkout, env, engine=False, pip=not uv) as machine:
        if sequence.cache_archive is not None:
            size = sequence.cache_archive.stat().st_size
            restore = cache_transfer(size)
            shutil.copy2(sequence.cache_archive, machine.checkout / CACHE_ARCHIVE)
            unzip = run_streamed(
                ["unzip", "-q", "-o", CACHE_ARCHIVE], cwd=machine.checkout, env=machine.env
            )
            (machine.checkout / CACHE_ARCHIVE).unlink()
            parts.append(Part("extract the CI cache (unzip)", unzip.seconds))
        version = services.poetry_version
        if uv:
            install = run_streamed(
                [
                    "uvx",
                    "-v",
                    "--from",
                    f"poetry=={version}",
                    "poetry",
                    "install",
                    "--no-interaction",
                ],
                cwd=machine.checkout,
                env=machine.env,
            )
            sequence.log(f"{label}-install", install)
            uv_part = _offset(install, lambda line: line.startswith(UV_RUNS))
            parts += [
                Part("uv: fetch and install Poetry", uv_part),
                Part("`poetry install`", install.seconds - uv_part),
            ]
        else:
            pip = run_streamed(
                ["python3", "-m", "pip", "install", f"poetry=={version}"],
                cwd=machine.checkout,
                env=machine.env,
            )
            sequence.log(f"{label}-pip", pip)
            install = run_streamed(
                ["poetry", "install", "--no-interaction"], cwd=machine.checkout, env=machine.env
            )
            sequence.log(f"{label}-install", install)
            parts += [
                Part("pip: fetch and install Poetry", pip.seconds),
                Part("`poetry install`", install.seconds),
            ]
        test = run_streamed([".venv/bin/pytest"], cwd=machine.checkout, env=machine.env)
        sequence.log(f"{label}-pytest", test)
        parts += until_collected(test, [("pytest: start, collect", None)])
        if save_to is not None:
            save_to.unlink(missing_ok=True)
            command = ["zip", "-q", "-r", str(save_to), POETRY_CACHE]
            subprocess.run(command, cwd=machine.checkout, env=machine.env, check=True)
    return JobRun(tuple(parts), cache_restore=restore, cache_bytes=size)


# --------------------------------------------------------------------------- timelines


def until_collected(timeline: Timeline, marks: Sequence[tuple[str, str | None]]) -> list[Part]:
    """The parts of a run up to pytest's `collected` line: `marks` name each part and the text
    of the line it starts at (None: the first part, from the start)."""
    end = _offset(timeline, lambda line: line.startswith("collected ") and " item" in line)
    starts = [0.0 if text is None else min(_offset_of(timeline, text), end) for _, text in marks]
    stops = [*starts[1:], end]
    return [
        Part(name, max(0.0, stop - start))
        for (name, _), start, stop in zip(marks, starts, stops, strict=True)
    ]


def _offset_of(timeline: Timeline, text: str) -> float:
    return _offset(timeline, lambda line: text in line)


def _offset(timeline: Timeline, matches: Callable[[str], bool]) -> float:
    for seconds, line in timeline.lines:
        if matches(line):
            return seconds
    raise RuntimeError("a line the benchmark waits for is missing:\n" + timeline.text[-3000:])
