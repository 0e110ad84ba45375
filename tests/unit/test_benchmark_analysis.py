"""The benchmark's analysis accounts for every part of a run, whatever the part is called."""

from __future__ import annotations

import pytest

from benchmarks.analysis import analyse
from benchmarks.analysis import every_part
from benchmarks.profiling import Timeline
from benchmarks.pushlog import read_push_log
from benchmarks.results import BASELINE_PARTS
from benchmarks.results import NOT_COVERED
from benchmarks.results import PLUGIN_BACKGROUND
from benchmarks.results import PLUGIN_PARTS
from benchmarks.results import Check
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.results import Segment
from benchmarks.results import account
from benchmarks.timing import Ratio
from benchmarks.timing import Samples


PLUGIN = [
    Segment("Poetry start-up, plan, registry check", 0.5, group="poetry"),
    Segment("read the base image's files (once per base)", 0.8, group="base"),
    Segment("fetch the locked files, install them on the host", 2.0, group="fetch"),
    Segment("write the dependency layers (tar + gzip)", 5.0, group="layers"),
    # A step the plugin renamed since the analysis was written: no group it knows.
    Segment("unrecognised line: Compressing N layers", 1.2, group="other"),
    Segment("upload the blobs", 0.3, group="upload"),
]
BASELINE = [
    Segment("docker CLI: send the context", 0.1, group="docker"),
    Segment("engine: FROM the base image (pulled when the engine lacks it)", 2.0, group="engine"),
    Segment("engine: RUN venv + pip install poetry (from the index)", 9.8, group="engine"),
    # Classified by no prefix: the old analysis summed "COPY" steps and reported ADD as 0.0 s.
    Segment("engine: ADD ci-image/venv.tar /opt/venv/", 10.3, group="engine"),
    Segment("docker push: compress, upload", 5.0, group="upload"),
]


def cold_figure(plugin_total: float, baseline_total: float) -> Figure:
    """Figure 1 as the benchmark writes it, with plain values: a missed 3x goal."""
    plugin, recipe = Samples((plugin_total,)), Samples((baseline_total,))
    figure = Figure(
        1,
        "The deps job on a fresh runner (webservice)",
        "canned",
        [
            Row("plugin: `poetry image push`, empty caches", plugin),
            Row("baseline: `docker build` + `docker push`, empty engine", recipe),
        ],
        [Check("plugin at least 3x faster than the baseline", Ratio.of(recipe, plugin), 3, True)],
    )
    figure.breakdowns[PLUGIN_PARTS] = list(PLUGIN)
    figure.totals[PLUGIN_PARTS] = plugin_total
    figure.breakdowns[PLUGIN_BACKGROUND] = [
        Segment("download Poetry's wheels for the image (pip)", 5.5, group="poetry")
    ]
    figure.breakdowns[BASELINE_PARTS] = list(BASELINE)
    figure.totals[BASELINE_PARTS] = baseline_total
    return figure


@pytest.mark.parametrize(
    ("total", "extra"),
    [
        pytest.param(9.8, None, id="parts that cover the run: nothing added"),
        pytest.param(10.3, 0.5, id="a run longer than its parts: the rest is a part of its own"),
        pytest.param(9.3, -0.5, id="parts longer than the run: a negative part says so"),
    ],
)
def test_the_parts_of_a_breakdown_sum_to_its_total(total: float, extra: float | None) -> None:
    """`account` never reports a whole as less or more than it was."""
    whole = account(PLUGIN, total)
    assert whole.total == pytest.approx(total)
    added = [part for part in whole.parts if part.label == NOT_COVERED]
    assert [part.value for part in added] == ([] if extra is None else [pytest.approx(extra)])


def test_the_analysis_names_every_part_and_their_sum_is_the_run() -> None:
    """Where the time goes: each part of both runs is named with its seconds, summed to the run."""
    figure = cold_figure(plugin_total=9.8, baseline_total=27.2)
    analyse([figure])
    text = "\n".join(figure.analysis)
    for part in [*PLUGIN, *BASELINE]:
        assert (
            f"{part.label} {part.value:.2f} s" in text or f"{part.label} {part.value:.1f} s" in text
        )
    assert "(sum 9.80 s)" in text
    assert "(sum 27.2 s)" in text
    assert "download Poetry's wheels for the image (pip) 5.50 s" in text


def test_a_renamed_step_is_reported_as_itself() -> None:
    """A part of no known group is listed as such; an ADD step counts with its own seconds."""
    figure = cold_figure(plugin_total=9.8, baseline_total=27.2)
    analyse([figure])
    text = "\n".join(figure.analysis)
    assert "Of no known kind (a new or renamed step, or time no log line covers): " in text
    assert "unrecognised line: Compressing N layers 1.20 s" in text
    assert "engine: ADD ci-image/venv.tar /opt/venv/ 10.3 s" in text
    assert "build steps in the engine 22.1 s" in text


def test_time_no_part_covers_shows_in_the_analysis() -> None:
    """A run longer than its parts: the difference is a part, named, in the sum."""
    figure = cold_figure(plugin_total=11.0, baseline_total=27.2)
    analyse([figure])
    text = "\n".join(figure.analysis)
    assert f"{NOT_COVERED} 1.20 s" in text
    assert "(sum 11.0 s)" in text


def test_every_part_of_a_breakdown_in_megabytes() -> None:
    """The same sentence for image layers, in MB."""
    layers = [Segment("numpy 2.4.6", 57.4, "MB", "layers"), Segment("pure:3", 0.7, "MB", "?")]
    text = every_part(account(layers), "MB")
    assert text.startswith("numpy 2.4.6 57 MB (99 %); pure:3 0.70 MB (1 %) (sum 58 MB).")
    assert "Of no known kind (a new or renamed step, or time no log line covers): pure:3" in text


def timeline(seconds: float, lines: list[tuple[float, str]]) -> Timeline:
    return Timeline(seconds, tuple(lines))


def test_a_push_log_is_split_at_its_steps_and_a_new_line_is_a_step_of_its_own() -> None:
    """The -v log of `poetry image push`: parts in order, summing to the run; Poetry's layer
    apart; the summary line read; an unknown status line starts a part named by its text."""
    log = read_push_log(
        timeline(
            10.0,
            [
                (0.5, "Reading the base image 127.0.0.1:5000/library/python:3.11 for linux/amd64"),
                (1.0, "Downloading Poetry 2.5.1 for CPython 3.11 on linux/amd64 (once)"),
                (1.0, "Fetching 58 locked distributions for CPython 3.11 on linux/amd64"),
                (1.5, "numpy 2.4.6: numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl"),
                (3.0, "Compressing 22 layers with 4 threads"),
                (6.0, "Writing Poetry's layers (50 distributions)"),
                (7.0, "layer own:numpy: 16.6 MB: numpy 2.4.6"),
                (7.0, "layer pure:0: 0.3 MB: alembic 1.20.1"),
                (8.0, "layer Poetry (pure-Python): 9.3 MB"),
                (8.0, "Pushing 127.0.0.1:5000/bench/webservice:py3.11-amd64-3705dc62 (sha256:6f7)"),
                (8.0, "Sending 26 blobs to 127.0.0.1:5000/bench/webservice"),
                (8.1, "layer sha256:4ffb5a15f671: uploading 19.7 MB"),
                (
                    9.0,
                    "Blobs: 25 uploaded (71.4 MB), 0 copied from the base's registry, "
                    "1 mounted, 0 already there",
                ),
                (9.5, "Pushed 127.0.0.1:5000/bench/webservice:py3.11-amd64-3705dc62 in 9.0 s."),
                (9.5, "127.0.0.1:5000/bench/webservice:py3.11-amd64-3705dc62"),
            ],
        )
    )
    assert [(part.label, round(part.value, 2)) for part in log.parts] == [
        ("Poetry start-up, plan, registry check", 0.5),
        ("read the base image's manifest and config", 0.5),
        ("fetch the locked files, install them on the host", 2.0),
        ("unrecognised line: Compressing N layers with N threads", 4.0),
        ("wait for Poetry's layer (made in parallel)", 1.0),
        ("upload the blobs", 1.0),
        ("put the manifest, check the tag", 0.5),
        ("Poetry exits", 0.5),
    ]
    assert sum(part.value for part in log.parts) == pytest.approx(10.0)
    assert [(part.label, part.value) for part in log.background] == [
        ("download Poetry's wheels for the image (pip)", 5.0),
        ("write Poetry's layers (tar + gzip)", 2.0),
    ]
    assert log.summary is not None
    assert (log.summary.uploaded, log.summary.uploaded_mb, log.summary.mounted) == (25, 71.4, 1)
    assert log.reference == "127.0.0.1:5000/bench/webservice:py3.11-amd64-3705dc62"
