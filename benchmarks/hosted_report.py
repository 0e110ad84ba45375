"""HOSTED.md: the hosted-runner benchmark's medians, goals and parts, with its stated figures;
and the calibration of the throttling proxy that the report states beside them."""

from __future__ import annotations

import datetime
import hashlib
import http.client
import os
import statistics
import time

from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.hosted_model import CACHE_FIXED
from benchmarks.hosted_model import CACHE_RATE
from benchmarks.hosted_model import CACHE_SOURCE
from benchmarks.hosted_model import KIND_NAMES
from benchmarks.hosted_model import KINDS
from benchmarks.hosted_model import MACHINE_START
from benchmarks.hosted_model import MACHINE_START_SOURCE
from benchmarks.hosted_model import NO_IMAGE
from benchmarks.hosted_model import RESEARCH
from benchmarks.hosted_model import SETTING_SOURCES
from benchmarks.hosted_model import SETTINGS
from benchmarks.hosted_model import WAY_NAMES
from benchmarks.hosted_model import WAYS
from benchmarks.hosted_model import Key
from benchmarks.hosted_model import Results
from benchmarks.hosted_model import goals
from benchmarks.throttle import UNLIMITED


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator

    from benchmarks.hosted_model import PipelineRun
    from benchmarks.throttle import Link
    from benchmarks.throttle import ThrottleProxy


UPLOAD_PROBE = 8_000_000  # bytes sent to measure the upward rate


@dataclass(frozen=True)
class Calibration:
    """What the proxy gave a client in one setting: a new connection's first answer, and the
    rates of a blob's download and upload through it."""

    setting: Link
    first_answer: float  # seconds
    down: float  # bytes per second
    up: float


@dataclass(frozen=True)
class Facts:
    command: str
    minutes: float
    runs: int
    large_runs: int
    large_ways: tuple[str, ...]
    large_settings: tuple[str, ...]
    test_jobs: int
    machine: dict[str, str]
    versions: dict[str, str]
    calibrations: tuple[Calibration, ...]
    bump: str
    missed: tuple[str, ...]  # misses of the index mirror during measured jobs
    partial: bool


def calibrate(proxy: ThrottleProxy, setting: Link, registry: str, blob: str) -> Calibration:
    """Through the proxy in `setting`, against the registry at `registry` (host:port, the
    proxy's): GET /v2/ on a new connection, GET the blob `blob` of the base, PUT a new blob."""
    host, port = registry.split(":")
    proxy.set_link(setting)
    try:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        connection.request("GET", "/v2/")
        connection.getresponse().read()
        first = time.perf_counter() - started
        started = time.perf_counter()
        connection.request("GET", f"/v2/library/python/blobs/{blob}")
        size = len(connection.getresponse().read())
        down = size / (time.perf_counter() - started)
        data = os.urandom(UPLOAD_PROBE)
        connection.request(
            "POST", "/v2/calibration/blobs/uploads/", headers={"Content-Length": "0"}
        )
        answer = connection.getresponse()
        answer.read()
        location = answer.getheader("Location") or ""
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        target = location.split("//", 1)[-1].split("/", 1)[-1]
        separator = "&" if "?" in target else "?"
        started = time.perf_counter()
        connection.request(
            "PUT",
            f"/{target}{separator}digest={digest}",
            body=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        answer = connection.getresponse()
        answer.read()
        up = len(data) / (time.perf_counter() - started)
        if answer.status != 201:
            raise RuntimeError(f"the calibration's upload was answered {answer.status}")
        connection.close()
    finally:
        proxy.set_link(UNLIMITED)
    return Calibration(setting, first, down, up)


# --------------------------------------------------------------------------- HOSTED.md


def render(results: Results, facts: Facts) -> str:
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    projects = sorted({key.project for key in results.runs}, key=("webservice", "large").index)
    settings = [s for s in SETTINGS if any(k.setting == s.name for k in results.runs)]
    lines = [
        "# Hosted-runner benchmark: whole pipelines, every job on a new machine",
        "",
        f"Written by `{facts.command}` on {date} ({facts.minutes:.0f} min). What is modelled and",
        "how: [README.md](README.md#the-hosted-runner-benchmark). Seconds until the first test",
        "of the pipeline (the line pytest prints before it, `collected N items`): medians of "
        f"{facts.runs} runs, lowest-highest in brackets (the heavy lock: {facts.large_runs} "
        f"run{'s' if facts.large_runs != 1 else ''}, of {', '.join(facts.large_ways)}, in "
        f"{' and '.join(facts.large_settings)}: each takes minutes).",
        f"The bot's bump: {facts.bump}. Each pipeline has {facts.test_jobs} parallel test jobs,",
        "each on a machine of its own and measured alone; the pipeline waits for the slowest.",
        "",
        *_misses(facts),
        *_model(facts),
    ]
    for project in projects:
        title = (
            "webservice, 61 locked packages"
            if project == "webservice"
            else ("the heavy lock: large, 266 locked packages")
        )
        lines += ["", f"## Until the first test: {title}", ""]
        lines += _table(results, project, settings)
    if results.failures:
        lines += ["", "## Failures", "", *_failures(results)]
    lines += ["", "## Goals", ""]
    lines += _goals(results, projects, settings)
    lines += ["", "## The plugin's pushes", ""]
    lines += _pushes(results, projects, settings)
    lines += ["", "## Where the time goes: the parts of the median pipeline", ""]
    lines += _parts(results, projects, settings)
    lines += ["", "## The CI cache of the no-image way", ""]
    lines += _caches(results, projects, settings)
    lines += ["", "## Not modelled", "", *NOT_MODELLED.splitlines()]
    lines += ["", "## Machine and versions", "", "| | |", "|---|---|"]
    lines += [
        f"| {name} | {value} |" for name, value in {**facts.machine, **facts.versions}.items()
    ]
    return "\n".join(lines) + "\n"


def _misses(facts: Facts) -> list[str]:
    if not facts.missed:
        return []
    return [
        "**The index mirror lacked files during these measured jobs**, which waited while it",
        "fetched them from the real index (their figures include that wait; a run again finds",
        "them in the mirror):",
        "",
        *(f"- {line}" for line in facts.missed),
        "",
    ]


def _model(facts: Facts) -> list[str]:
    lines = [
        "## The model and its stated figures",
        "",
        "Every figure but two is what the real clients did, timed by wall clock: dockerd 20.10,",
        "`docker pull`/`build`/`push`/`run`, uv, pip, Poetry, the plugin, pytest. The two stated",
        "figures are columns of their own in every table, never hidden in another:",
        "",
        f"- **A machine's start: {MACHINE_START:.0f} s** before the first command of every job on",
        f"  the pipeline's critical path; from {MACHINE_START_SOURCE}.",
        f"- **The CI cache's transfer: its archive's size / {CACHE_RATE / 1e6:.0f} MB/s + "
        f"{CACHE_FIXED:.0f} s**",
        "  (the no-image way's Poetry cache, restored before its test job). This is the one",
        "  modelled part: the archive is real (the previous pipeline's Poetry cache, zipped as",
        "  GitLab's runner does, its size measured) and so is its extraction (`unzip`, timed in",
        f"  the test job); only its download is computed. The rate: {CACHE_SOURCE}.",
        "",
        "The registries and the package index are behind a throttling proxy on loopback (a",
        "shared transmitter per direction, a one-way delay with pipelined chunks, and two round",
        "trips before a new connection carries data, for TCP's and TLS 1.3's handshakes). Two",
        "settings, and what the proxy gave a client in each (a blob of the base downloaded,",
        f"an {UPLOAD_PROBE / 1e6:.0f} MB blob uploaded, a new connection's first answer):",
        "",
        "| setting | stated | achieved | why these figures |",
        "|---|---|---|---|",
    ]
    for calibration in facts.calibrations:
        setting = calibration.setting
        lines.append(
            f"| {setting.name} | {setting.describe()} | {calibration.down / 1e6:.0f} MB/s down, "
            f"{calibration.up / 1e6:.0f} MB/s up, first answer in "
            f"{calibration.first_answer * 1e3:.0f} ms | {SETTING_SOURCES[setting.name]} |"
        )
    lines += [
        "",
        f"The sources were collected in {RESEARCH} (outside this repository); none is a careful",
        "measurement, so the tables show each stated figure apart for readers to put their own in.",
        "",
        *WAYS_TEXT.splitlines(),
    ]
    return lines


WAYS_TEXT = """\
The ways, each on new machines (an empty HOME: no Poetry, pip or uv cache; a new dockerd with an
empty image store where the job runs containers), three commits in turn on a new repository:
(c) the first pipeline, (a) a commit that adds a test and changes no dependency, (b) a bot's
commit that changes only poetry.lock.

- **poetry-ci-image, default recipe** (examples/gitlab/.gitlab-ci.yml): the deps job runs
  `uvx --from poetry==V --with poetry-ci-image==V poetry image push --dotenv ci-image.env` (and
  `--json` and `uvx -v`, for the parts) with no cache; each test job pulls the image and runs
  `poetry install` and `pytest` in it.
- **plain Dockerfile recipe**: the deps job (docker-in-docker: a new engine, so the base is
  pulled and there is no build cache) runs `docker build` + `docker push` of baseline.py's
  Dockerfile, tagged by the md5 of pyproject.toml, poetry.lock and the Dockerfile, and pushes
  the branch's tag; it runs only when one of them changes (`rules: changes`), so (a) has no
  deps job and tests in the default branch's image. Each test job pulls the image and runs
  `pytest` in it.
- **no image**: each test job restores the CI cache (Poetry's cache, from the previous
  pipeline), installs Poetry with uv and runs `poetry install` (`uvx --from poetry==V poetry
  install`; the pipeline benchmark's way), and runs `.venv/bin/pytest`. With `--ways ...
  no-image-pip`, also the same with Poetry installed by pip (`pip install poetry==V`, then
  `poetry install`)."""

NOT_MODELLED = """\
- The job images of jobs that do not run in the CI image: the plugin's deps job and the no-image
  test jobs run on the machine with CPython 3.11 and uv in place, the Dockerfile recipe's deps job
  with its engine in place (on GitLab.com these pull uv's image, a python image, and docker:cli
  with the docker:dind service; on GitHub's runners uv comes from setup-uv and Docker is there).
- GitLab's handling of artifacts and reports (the dotenv report) between jobs, the checkout, and
  the CI cache's archiving at a job's end (after the tests).
- TCP's slow start and windows, and loss; TLS only as its handshake's round trips.
- Docker Hub: the base comes from a second registry behind the same proxy; both registries are
  distribution 2.8 on loopback. The index is a loopback mirror of the real one (its pages as
  large as the real ones, gzip'd; a page is kept as first fetched)."""


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def _table(results: Results, project: str, settings: list[Link]) -> list[str]:
    lines = [
        "| setting | pipeline | way | until the first test | machine starts | CI cache "
        "transfer | deps job | test job (slowest) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in _keys([project], settings, WAYS):
        runs = results.get(key)
        failed = results.failures.get(key)
        what = f"| {key.setting} | {KIND_NAMES[key.kind]} | {WAY_NAMES[key.way]} |"
        if failed is not None:
            lines.append(f"{what} **failed** ({len(runs)} runs measured before) | | | | |")
        if not runs:
            continue
        starts = runs[0].machine_starts
        cache = [run.slowest.cache_restore for run in runs]
        lines.append(
            f"{what} **{_spread([run.total for run in runs])}** | {starts} x "
            f"{MACHINE_START:.0f} = {starts * MACHINE_START:.0f} | "
            f"{_spread(cache) if any(cache) else '-'} | "
            f"{_spread([run.deps_seconds for run in runs]) if runs[0].deps else '-'} | "
            f"{_spread([run.slowest.measured for run in runs])} |"
        )
    return lines


def _failures(results: Results) -> list[str]:
    lines = [
        "A pipeline that failed ends its sequence (the later commits build on it); what the",
        "failing command said:",
        "",
    ]
    for key, said in results.failures.items():
        lines.append(
            f"- {key.project}, {key.setting}, {WAY_NAMES[key.way]}, {KIND_NAMES[key.kind]}: {said}"
        )
    return lines


def _goals(results: Results, projects: list[str], settings: list[Link]) -> list[str]:
    lines = ["| lock | setting | goal | measured | verdict |", "|---|---|---|---|---|"]
    for project in projects:
        for setting in settings:
            for goal in goals(results, project, setting.name):
                verdict = "met" if goal.met else "**missed**"
                lines.append(
                    f"| {project} | {setting.name} | {goal.name} | {goal.measured} | {verdict} |"
                )
    lines += [
        "",
        "The goals compare totals with every stated figure in (the machines' starts, the CI",
        "cache's transfer); the no-image way's figure is its faster variant's.",
    ]
    return lines


def _pushes(results: Results, projects: list[str], settings: list[Link]) -> list[str]:
    lines = [
        "The deps job's `poetry image push` (from uv starting Poetry to its exit), on the job's",
        "empty-cache machine and, for the bump, on a runner that kept the first pipeline's caches",
        "(pushing to a repository of its own that holds the previous image); what it sent, from",
        "its `--json` report (median run).",
        "",
        "| lock | setting | pipeline | push | warm runner | blobs | uploaded / changed layer |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in _keys(projects, settings, ("plugin",)):
        runs = results.get(key)
        pushes = [run.push for run in runs if run.push is not None]
        if not pushes:
            continue
        warm = [run.warm_push.seconds for run in runs if run.warm_push is not None]
        median = sorted(pushes, key=lambda push: push.seconds)[(len(pushes) - 1) // 2]
        layer = f"{median.changed_layer / 1e6:.2f} MB" if median.changed_layer else "-"
        lines.append(
            f"| {key.project} | {key.setting} | {KIND_NAMES[key.kind]} | "
            f"{_spread([push.seconds for push in pushes])} | "
            f"{_spread(warm) if warm else '-'} | {median.blobs} | "
            f"{median.uploaded / 1e6:.2f} MB / {layer} |"
        )
    return lines


def _parts(results: Results, projects: list[str], settings: list[Link]) -> list[str]:
    lines = [
        "Seconds of each part of the median pipeline's jobs (the deps job's, then its slowest",
        "test job's); the machines' starts and the CI cache's transfer are in the tables above.",
    ]
    for project in projects:
        for way in WAYS:
            columns = [
                (setting, kind)
                for setting in settings
                for kind in KINDS
                if results.get(Key(project, setting.name, kind, way))
            ]
            if not columns:
                continue
            medians = {
                column: results.median_run(Key(project, column[0].name, column[1], way))
                for column in columns
            }
            names = _part_names(medians.values())
            header = " | ".join(f"{kind} ({setting.name})" for setting, kind in columns)
            lines += ["", f"**{project}, {WAY_NAMES[way]}**", ""]
            lines += [f"| part | {header} |", "|---|" + "---|" * len(columns)]
            for job, name in names:
                cells = []
                for column in columns:
                    value = _part(medians[column], job, name)
                    cells.append("-" if value is None else f"{value:.2f}")
                lines.append(f"| {job}: {name} | {' | '.join(cells)} |")
    return lines


def _part_names(runs: Iterable[PipelineRun]) -> list[tuple[str, str]]:
    """Every (job, part) of the runs, each after the part that comes before it in a run."""
    names: list[tuple[str, str]] = []
    for run in runs:
        previous = -1
        for job, record in (("deps", run.deps), ("test", run.slowest)):
            for part in record.parts if record is not None else ():
                name = (job, part.name)
                if name not in names:
                    names.insert(previous + 1, name)
                previous = names.index(name)
    return names


def _part(run: PipelineRun, job: str, name: str) -> float | None:
    record = run.deps if job == "deps" else run.slowest
    if record is None:
        return None
    found = [part.seconds for part in record.parts if part.name == name]
    return sum(found) if found else None


def _caches(results: Results, projects: list[str], settings: list[Link]) -> list[str]:
    lines = [
        "The archive each test job restored (the previous pipeline's Poetry cache, zipped), and",
        "its modelled transfer (median run):",
        "",
        "| lock | setting | pipeline | way | archive | transfer |",
        "|---|---|---|---|---|---|",
    ]
    for key in _keys(projects, settings, NO_IMAGE):
        runs = results.get(key)
        if not any(run.slowest.cache_bytes for run in runs):
            continue
        sizes = [run.slowest.cache_bytes / 1e6 for run in runs]
        seconds = [run.slowest.cache_restore for run in runs]
        lines.append(
            f"| {key.project} | {key.setting} | {KIND_NAMES[key.kind]} | {WAY_NAMES[key.way]} | "
            f"{statistics.median(sizes):.0f} MB | {statistics.median(seconds):.1f} s |"
        )
    return lines


def _keys(projects: list[str], settings: list[Link], ways: Iterable[str]) -> Iterator[Key]:
    for project in projects:
        for setting in settings:
            for kind in KINDS:
                for way in ways:
                    yield Key(project, setting.name, kind, way)
