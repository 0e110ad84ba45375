"""The hosted-runner benchmark's logic on canned values: a pipeline's time with the stated
figures apart, the goals' verdicts, the report's tables, the mirror's links and ranges, and a
test job's parts up to pytest's `collected` line (no engine, no registry, no index)."""

from __future__ import annotations

import math

import pytest

from benchmarks.hosted_jobs import until_collected
from benchmarks.hosted_model import CACHE_FIXED
from benchmarks.hosted_model import CACHE_RATE
from benchmarks.hosted_model import KINDS
from benchmarks.hosted_model import MACHINE_START
from benchmarks.hosted_model import SETTINGS
from benchmarks.hosted_model import JobRun
from benchmarks.hosted_model import Key
from benchmarks.hosted_model import Part
from benchmarks.hosted_model import PipelineRun
from benchmarks.hosted_model import PushFacts
from benchmarks.hosted_model import Results
from benchmarks.hosted_model import cache_transfer
from benchmarks.hosted_model import goals
from benchmarks.hosted_report import Calibration
from benchmarks.hosted_report import Facts
from benchmarks.hosted_report import render
from benchmarks.mirror import byte_range
from benchmarks.mirror import rewrite_links
from benchmarks.profiling import Timeline


def job(*seconds: float, restore: float = 0.0) -> JobRun:
    return JobRun(tuple(Part(f"part {i}", s) for i, s in enumerate(seconds)), cache_restore=restore)


def push(seconds: float, uploaded: float = 8.2e6, layer: float | None = 8.1e6) -> PushFacts:
    return PushFacts(seconds, True, uploaded, "2 uploaded", layer)


def test_a_pipeline_adds_a_machine_start_per_job_on_its_path_and_the_slowest_test() -> None:
    run = PipelineRun(job(1.0, 2.0), (job(4.0), job(3.0, restore=2.5)))
    assert run.machine_starts == 2
    assert run.slowest.critical == 5.5
    assert run.total == pytest.approx(2 * MACHINE_START + 3.0 + 5.5)
    alone = PipelineRun(None, (job(4.0),))
    assert alone.machine_starts == 1
    assert alone.total == pytest.approx(MACHINE_START + 4.0)


def test_the_ci_cache_transfer_is_its_size_at_the_stated_rate_plus_a_fixed_cost() -> None:
    assert cache_transfer(0) == CACHE_FIXED
    assert cache_transfer(int(CACHE_RATE * 3)) == pytest.approx(3 + CACHE_FIXED)


def canned(plugin: dict[str, float], plain: dict[str, float], none: dict[str, float]) -> Results:
    """Test jobs of the given seconds (deps jobs of 2 s for the plugin, 10 s for the plain
    recipe but on (a)), and the bump's pushes."""
    results = Results()
    for kind in KINDS:
        for _ in range(3):
            results.add(
                Key("webservice", "near", kind, "plugin"),
                PipelineRun(
                    job(2.0),
                    (job(plugin[kind]),),
                    push=push(3.0) if kind == "bot" else None,
                    warm_push=push(2.5) if kind == "bot" else None,
                ),
            )
            deps = None if kind == "no-change" else job(10.0)
            results.add(
                Key("webservice", "near", kind, "dockerfile"),
                PipelineRun(deps, (job(plain[kind]),)),
            )
            results.add(
                Key("webservice", "near", kind, "no-image-uv"),
                PipelineRun(None, (job(none[kind], restore=1.0),)),
            )
    return results


def test_the_goals_on_the_medians() -> None:
    results = canned(
        plugin={"first": 20.0, "no-change": 5.0, "bot": 6.0},
        plain={"first": 60.0, "no-change": 5.0, "bot": 60.0},
        none={"first": 30.0, "no-change": 25.0, "bot": 30.0},
    )
    verdicts = {goal.name: goal.met for goal in goals(results, "webservice", "near")}
    assert verdicts == {
        "a one-package bump: the push on an empty-cache runner at most 1.5x the same push on a "
        "warm runner": True,
        "... and it uploads at most 1.5x the changed layer": True,
        "no dependency change: the deps job at most 3 s (its machine's start apart), with no CI "
        "cache restored": True,
        # 2 starts + 2 + 5 against 1 start + 5: one machine's start more
        "(a) no dependency change: at most the Dockerfile recipe's time + 2 s": False,
        "(a) ... and less than the no-image way's": True,
        # 22 + 2 + 6 = 30 against 22 + 10 + 60 = 92
        "(b) a bot's bump: at least 3x faster than the Dockerfile recipe": True,
        "(b) ... and faster than the no-image way": True,
        "(c) the first pipeline: faster than the Dockerfile recipe": True,
    }


def test_a_slow_cold_push_and_a_large_upload_miss_their_goals() -> None:
    results = Results()
    key = Key("large", "far", "bot", "plugin")
    for cold, warm in ((10.0, 2.0), (12.0, 2.0), (11.0, 3.0)):
        results.add(
            key,
            PipelineRun(
                job(1.0), (job(1.0),), push=push(cold, uploaded=100e6), warm_push=push(warm)
            ),
        )
    first, upload = goals(results, "large", "far")[:2]
    assert not first.met
    assert first.measured == "5.50x (11.0 s against 2.0 s)"
    assert upload.name == "... and it uploads at most 1.5x the changed layer"
    assert not upload.met
    assert upload.measured == "12.35x (100.00 MB against 8.10 MB)"


def test_the_report_shows_the_stated_figures_apart() -> None:
    results = canned(
        plugin={"first": 20.0, "no-change": 5.0, "bot": 6.0},
        plain={"first": 60.0, "no-change": 5.0, "bot": 60.0},
        none={"first": 30.0, "no-change": 25.0, "bot": 30.0},
    )
    facts = Facts(
        command="python -m benchmarks.hosted --index-url URL --runs 3",
        minutes=42,
        runs=3,
        large_runs=1,
        large_ways=("plugin", "dockerfile"),
        large_settings=("near",),
        test_jobs=1,
        machine={"CPU": "two cores"},
        versions={"uv": "0.13.9"},
        calibrations=(Calibration(SETTINGS[0], 0.03, 55e6, 50e6),),
        bump="sqlalchemy 2.1.8 -> 2.1.9",
        missed=(),
        partial=False,
    )
    text = render(results, facts)
    row = next(line for line in text.splitlines() if line.startswith("| near | (a)"))
    # until the first test, then the machines' starts, no CI cache, the deps job, the test job
    total = f"{2 * MACHINE_START + 7:.1f}"
    assert row == (
        "| near | (a) no dependency change | poetry-ci-image, default recipe | "
        f"**{total} ({total}-{total})** | 2 x {MACHINE_START:.0f} = {2 * MACHINE_START:.0f} | - | "
        "2.0 (2.0-2.0) | 5.0 (5.0-5.0) |"
    )
    assert "55 MB/s down, 50 MB/s up, first answer in 30 ms" in text
    assert (
        "| webservice | near | (c) the first pipeline: faster than the Dockerfile recipe |" in text
    )


def test_the_mirror_points_every_file_link_back_to_itself() -> None:
    page = (
        '<a href="https://files.example/packages/ab/cd/pkg-1.0-py3-none-any.whl#sha256=00"'
        ' data-requires-python="&gt;=3.8">pkg-1.0-py3-none-any.whl</a>'
        '<a href="../../packages/pkg-1.0.tar.gz">pkg-1.0.tar.gz</a>'
    )
    rewritten = rewrite_links(page, "https://index.example/simple/pkg/")
    assert 'href="../../f/files.example/packages/ab/cd/pkg-1.0-py3-none-any.whl#sha256=00"' in (
        rewritten
    )
    assert 'href="../../f/index.example/packages/pkg-1.0.tar.gz"' in rewritten
    assert 'data-requires-python="&gt;=3.8"' in rewritten


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=900-", (900, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=950-2000", (950, 999)),
        ("bytes=1000-", None),
        ("bytes=0-1,5-9", None),
        ("bytes=-", None),
    ],
)
def test_the_mirror_serves_one_byte_range(
    header: str | None, expected: tuple[int, int] | None
) -> None:
    assert byte_range(header, 1000) == expected


def test_a_test_job_ends_at_pytest_s_collected_line() -> None:
    timeline = Timeline(
        9.0,
        (
            (0.5, "Installing dependencies from lock file"),
            (2.0, "No dependencies to install or update"),
            (3.0, "============================= test session starts ======"),
            (4.25, "collected 1 item"),
            (8.0, "1 passed"),
        ),
    )
    parts = until_collected(
        timeline, [("container start, poetry install", None), ("pytest", "test session starts")]
    )
    assert parts == [Part("container start, poetry install", 3.0), Part("pytest", 1.25)]
    assert math.fsum(part.seconds for part in parts) == 4.25
    with pytest.raises(RuntimeError, match="missing"):
        until_collected(Timeline(1.0, ((0.5, "error"),)), [("all", None)])
