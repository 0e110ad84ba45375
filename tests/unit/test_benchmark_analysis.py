"""The benchmark's analysis accounts for every part of a run, whatever the part is called."""

from __future__ import annotations

import json
import sys

from pathlib import Path

import pytest

from benchmarks import baseline
from benchmarks import profiling
from benchmarks.analysis import analyse
from benchmarks.analysis import every_part
from benchmarks.history import Layer
from benchmarks.history import debian_packages
from benchmarks.history import holding
from benchmarks.history import label
from benchmarks.history import packages_in
from benchmarks.history import system_layers
from benchmarks.profiling import Timeline
from benchmarks.profiling import missing_functions
from benchmarks.push_record import read_push_record
from benchmarks.report import RunFacts
from benchmarks.report import render
from benchmarks.report import splice
from benchmarks.results import BASELINE_PARTS
from benchmarks.results import NOT_COVERED
from benchmarks.results import PLUGIN_BACKGROUND
from benchmarks.results import PLUGIN_PARTS
from benchmarks.results import Check
from benchmarks.results import Compared
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.results import Segment
from benchmarks.results import Sides
from benchmarks.results import account
from benchmarks.system import warm_overhead
from benchmarks.timing import Ratio
from benchmarks.timing import Samples
from benchmarks.timing import paired_difference


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
        [
            Check(
                "plugin at least 3x faster than the baseline",
                Ratio.of(recipe, plugin),
                3,
                True,
                sides=Sides(plugin, recipe, PLUGIN_PARTS, BASELINE_PARTS, PLUGIN_BACKGROUND),
            )
        ],
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


def test_a_goal_against_the_baseline_is_explained_from_its_sides_not_its_wording() -> None:
    """Figure 8: a missed time goal carries both jobs and their breakdowns' titles as data,
    so the analysis needs no package name out of the goal's words; an upload goal carries none
    and adds nothing."""
    plugin, recipe = Samples((9.8,)), Samples((27.2,))
    figure = Figure(
        8,
        "A one-package bump, the previous image in the registry (webservice)",
        "canned",
        [Row("a row of any name", plugin), Row("another", recipe)],
        [
            Check(
                "a goal worded any way",
                Ratio.of(recipe, plugin),
                10,
                True,
                sides=Sides(plugin, recipe, "the plugin's run", "the baseline's run"),
            ),
            Check("an upload goal", Ratio(2.0, 2.0, 2.0), 1.5, False),
        ],
    )
    figure.breakdowns |= {"the plugin's run": list(PLUGIN), "the baseline's run": list(BASELINE)}
    analyse([figure])
    assert len(figure.analysis) == 3
    assert figure.analysis[0].startswith("The plugin's push took 9.80 s (median).")
    assert "(sum 9.80 s)" in figure.analysis[0]
    assert "(sum 27.2 s)" in figure.analysis[1]
    assert figure.analysis[2].startswith(
        "10x faster than the baseline's 27.2 s leaves 2.72 s for the whole push; it is 7.08 s over."
    )


def test_every_part_of_a_breakdown_in_megabytes() -> None:
    """The same sentence for image layers, in MB."""
    layers = [Segment("numpy 2.4.6", 57.4, "MB", "layers"), Segment("pure:3", 0.7, "MB", "?")]
    text = every_part(account(layers), "MB")
    assert text.startswith("numpy 2.4.6 57 MB (99 %); pure:3 0.70 MB (1 %) (sum 58 MB).")
    assert "Of no known kind (a new or renamed step, or time no log line covers): pure:3" in text


def step(name: str, start: float, seconds: float, track: str = "main") -> dict[str, object]:
    return {"name": name, "track": track, "start": start, "seconds": seconds}


def digest(hexdigit: str) -> str:
    return "sha256:" + hexdigit * 64


# A first push, as `poetry image push --json` prints it (jobs/push_job.py: push_report): one
# platform, the base's layer mounted, the plugin's layers and the config uploaded.
PUSHED = {
    "reference": "127.0.0.1:5000/bench/webservice:py3.11-amd64-3705dc62",
    "pushed": True,
    "digest": digest("6"),
    "seconds": 8.5,
    "blobs": {
        "present": 0,
        "mounted": 1,
        "copied": 0,
        "uploaded": 25,
        "uploaded_bytes": 71_400_000,
        "copied_bytes": 0,
    },
    "elapsed": 9.0,
    "steps": [
        step("resolve the lock to its tag", 0.0, 0.4),
        step("ask the registry for the tag", 0.5, 0.1),
        step("read the base image's manifest and config", 0.6, 0.2),
        step("fetch Poetry's wheels for the image", 1.0, 4.0, "poetry"),
        step("fetch and install the locked files", 1.0, 1.5),
        step("compile the bytecode", 2.5, 3.0),
        step("write Poetry's layers", 5.0, 2.0, "poetry"),
        step("write the dependency layers", 5.5, 1.5),
        step("send the blobs and the manifest", 7.5, 1.4),
    ],
    "platforms": [
        {
            "platform": "linux/amd64",
            "digest": digest("7"),
            "config": digest("c"),
            "base_layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest("b"),
                    "size": 65_118_302,
                }
            ],
            "layers": [
                {"digest": digest("1"), "size": 16_600_000, "comment": "numpy 2.4.6"},
                {"digest": digest("2"), "size": 300_000, "comment": "pure:0: alembic 1.20.1"},
            ],
        }
    ],
}


def test_a_push_record_is_split_at_its_steps_and_a_new_step_is_a_part_of_its_own() -> None:
    """`push --json`: the command's seconds split into Poetry's start-up and exit, each step of
    the main path and the time between them, summing to the whole; Poetry's layers apart; the
    blobs read; a step this reader does not know is a part under its own name."""
    log = read_push_record(json.dumps(PUSHED), 10.0)
    assert [(part.label, round(part.value, 2)) for part in log.parts] == [
        ("Poetry start-up and exit", 1.0),
        ("plan: resolve the lock to its tag", 0.4),
        ("ask the registry for the tag", 0.1),
        ("read the base image's manifest and config", 0.2),
        ("fetch the locked files, install and compile them on the host", 1.5),
        ("compile the bytecode", 3.0),
        ("write the dependency layers (tar + gzip)", 1.5),
        ("send the blobs and the manifest", 1.4),
        ("the plugin, between its steps", 0.9),
    ]
    assert sum(part.value for part in log.parts) == pytest.approx(10.0)
    assert [part.group for part in log.parts if part.label == "compile the bytecode"] == ["other"]
    assert [(part.label, part.value) for part in log.background] == [
        ("fetch Poetry's wheels for the image (pip)", 4.0),
        ("write Poetry's layers (compile, tar + gzip)", 2.0),
    ]
    assert log.summary is not None
    assert (log.summary.uploaded, log.summary.uploaded_mb, log.summary.mounted) == (25, 71.4, 1)
    assert log.reference == "127.0.0.1:5000/bench/webservice:py3.11-amd64-3705dc62"


def test_a_push_record_lists_the_first_platforms_layers_and_its_bases() -> None:
    """The layers the plugin added, with what each holds, and the digests of the base's below."""
    log = read_push_record(json.dumps(PUSHED), 10.0)
    assert log.layers == (
        Layer(digest("1"), 16_600_000, "numpy 2.4.6"),
        Layer(digest("2"), 300_000, "pure:0: alembic 1.20.1"),
    )
    assert log.base_layers == (digest("b"),)
    assert holding(log.layers, "alembic").digest == digest("2")


def test_a_push_that_found_its_image_says_so_and_lists_nothing_sent() -> None:
    """The no-change path: `pushed` false, no blobs and no layers; its parts still sum to the
    command's seconds."""
    report = {
        "reference": PUSHED["reference"],
        "pushed": False,
        "digest": PUSHED["digest"],
        "seconds": 0.012,
        "blobs": None,
        "elapsed": 0.105,
        "steps": [
            step("resolve the lock to its tag", 0.001, 0.08),
            step("ask the registry for the tag", 0.092, 0.011),
        ],
        "platforms": [],
    }
    log = read_push_record(json.dumps(report), 0.43)
    assert (log.pushed, log.summary, log.layers, log.base_layers) == (False, None, (), ())
    assert read_push_record(json.dumps(PUSHED), 10.0).pushed
    assert [part.label for part in log.parts] == [
        "Poetry start-up and exit",
        "plan: resolve the lock to its tag",
        "ask the registry for the tag",
        "the plugin, between its steps",
    ]
    assert sum(part.value for part in log.parts) == pytest.approx(0.43)


# A config's history as the plugin writes it (image/config.py) over the benchmark's base
# (tests/support/base_images.py), comments copied from a push of the webservice lock.
CONFIG_HISTORY = [
    {
        "created_by": "debootstrap bookworm (bookworm-python.tar)",
        "comment": "tests/support/base_images.py",
    },
    *(
        {"created": "1970-01-01T00:00:00Z", "created_by": "poetry-ci-image", "comment": comment}
        for comment in (
            "the venvs' skeleton, for /usr/bin/python3.11",
            "bytecode of the standard library of 127.0.0.1:54035/library/python:3.11-slim-bookworm",
            "Poetry 2.5.1 in /opt/poetry: pure-Python distributions",
            "Poetry 2.5.1 in /opt/poetry: compiled distributions",
            "pandas 3.1.1",
            "python-dateutil 2.9.0.post0",
            "pure:9: click-plugins 1.1.1.2, click-repl 0.4.1",
            "pure:4: async-timeout 5.0.1, click-didyoumean 0.3.1, pytest-mock 3.17.0",
            "pure:5: annotated-types 0.8.0",
        )
    ),
]


def test_the_packages_a_layer_holds_are_read_from_its_history_entry() -> None:
    """A package's own layer names one, a group's layer each of its packages; the base's,
    Poetry's, the standard library's and the venvs' skeleton name none."""
    assert [packages_in(entry["comment"]) for entry in CONFIG_HISTORY] == [
        {},
        {},
        {},
        {},
        {},
        {"pandas": "3.1.1"},
        {"python-dateutil": "2.9.0.post0"},
        {"click-plugins": "1.1.1.2", "click-repl": "0.4.1"},
        {"async-timeout": "5.0.1", "click-didyoumean": "0.3.1", "pytest-mock": "3.17.0"},
        {"annotated-types": "0.8.0"},
    ]


def test_a_layer_is_found_by_the_package_and_its_version() -> None:
    """By canonical name; with a version, only the layer with that version; never a word of
    another layer's comment ("pure-Python" is no package)."""
    layers = [
        Layer(digest(str(number)), 1000 + number, str(entry["comment"]))
        for number, entry in enumerate(CONFIG_HISTORY[1:])
    ]
    assert (
        holding(layers, "Click_Repl").comment == "pure:9: click-plugins 1.1.1.2, click-repl 0.4.1"
    )
    assert holding(layers, "pandas", "3.1.1").size == 1004
    with pytest.raises(LookupError, match=r"no layer holds pandas 3\.1\.0"):
        holding(layers, "pandas", "3.1.0")
    with pytest.raises(LookupError, match="no layer holds pure"):
        holding(layers, "pure")


# `docker history` of the plain recipe's image (Docker 20.10's classic builder, the API's
# fields; oldest first, as engine.history gives them), and how the image's breakdown names them.
ENGINE_HISTORY = [
    (
        {
            "CreatedBy": "debootstrap bookworm (bookworm-python.tar)",
            "Comment": "tests/support/base_images.py",
            "Size": 157_302_111,
        },
        "tests/support/base_images.py",
    ),
    (
        {
            "CreatedBy": "/bin/sh -c #(nop) COPY file:"
            "b9d47833fb1ad845aaf281235f4ec56b8a50b3cca2eca149917ef5a0283e5a59"
            " in /etc/ssl/certs/host-ca-bundle.crt ",
            "Comment": "",
            "Size": 219_611,
        },
        "COPY file in /etc/ssl/certs/host-ca-bundle.crt",
    ),
    (
        {
            "CreatedBy": "|1 PIP_INDEX_URL=https://index.example/simple /bin/sh -c python3 -m "
            'venv "$POETRY_HOME"  && "$POETRY_HOME/bin/pip" install --no-cache-dir '
            '"poetry==$POETRY_VERSION"',
            "Comment": "",
            "Size": 102_951_334,
        },
        'python3 -m venv "$POETRY_HOME" && "$POETRY_HOME/bin/pip" install --...',
    ),
    (
        {"CreatedBy": "/bin/sh -c #(nop)  ENV PATH=/app/.venv/bin", "Comment": "", "Size": 0},
        "ENV PATH=/app/.venv/bin",
    ),
    (
        {
            "CreatedBy": "/bin/sh -c #(nop) COPY multi:"
            "4bd77cffb0da8cbda839ed5caaf5d418f19addc5941776e87261e000d6f96e93 in ./ ",
            "Comment": "",
            "Size": 251_872,
        },
        "COPY multi in ./",
    ),
    (
        {
            "CreatedBy": "|1 PIP_INDEX_URL=https://index.example/simple /bin/sh -c poetry "
            'install --no-root --no-interaction && rm -rf "$POETRY_CACHE_DIR"',
            "Comment": "",
            "Size": 197_803_004,
        },
        'poetry install --no-root --no-interaction && rm -rf "$POETRY_CACHE_...',
    ),
    (
        {"CreatedBy": "poetry-ci-image", "Comment": "pandas 3.1.1", "Size": 79_600_000},
        "pandas 3.1.1",
    ),
]


@pytest.mark.parametrize(
    ("entry", "expected"), [pytest.param(*pair, id=pair[1]) for pair in ENGINE_HISTORY]
)
def test_a_history_entry_is_named_by_its_comment_else_its_instruction(
    entry: dict[str, object], expected: str
) -> None:
    """The plugin's comment; else the builder's instruction without the shell, the build
    arguments and the content hash, cut to a table cell."""
    assert label(str(entry["CreatedBy"]), str(entry["Comment"])) == expected


# `docker build` by Docker 20.10's classic builder (DOCKER_BUILDKIT=0) of the plain recipe, as
# the benchmark receives it: (seconds since the command started, line).
CLASSIC_BUILD = (
    (0.02, "Sending build context to Docker daemon  236.5kB"),
    (0.06, "Step 1/10 : FROM 127.0.0.1:5000/library/python:3.11-slim-bookworm"),
    (0.07, "3.11-slim-bookworm: Pulling from library/python"),
    (2.80, " ---> 1d2c0b8e3f4a"),
    (2.86, "Step 2/10 : COPY host-ca-bundle.crt /etc/ssl/certs/host-ca-bundle.crt"),
    (3.12, "Step 3/10 : ENV PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt     SSL_CERT_FILE=/x"),
    (3.20, "Step 4/10 : ARG PIP_INDEX_URL"),
    (3.28, "Step 5/10 : ENV POETRY_VERSION=2.5.1     POETRY_HOME=/opt/poetry"),
    (
        3.38,
        'Step 6/10 : RUN python3 -m venv "$POETRY_HOME"  && "$POETRY_HOME/bin/pip" install '
        '--no-cache-dir "poetry==$POETRY_VERSION"',
    ),
    (3.40, " ---> Running in 0f6e2a1b9c8d"),
    (14.1, "Step 7/10 : ENV PATH=/app/.venv/bin:$POETRY_HOME/bin:$PATH"),
    (14.2, "Step 8/10 : WORKDIR /app"),
    (14.3, "Step 9/10 : COPY pyproject.toml poetry.lock ./"),
    (
        14.4,
        'Step 10/10 : RUN poetry install --no-root --no-interaction && rm -rf "$POETRY_CACHE_DIR"',
    ),
    (21.7, "Successfully built 8a7f6e5d4c3b"),
    (21.7, "Successfully tagged 127.0.0.1:5000/bench/webservice-baseline:9c1e"),
)


def test_a_classic_build_is_split_at_its_step_lines() -> None:
    """Each Dockerfile step is a part until the next step line, the baseline's two RUNs by what
    they do, ARG/ENV/WORKDIR summed; the parts sum to the build's seconds."""
    parts = baseline.build_parts(Timeline(21.75, CLASSIC_BUILD))
    assert [(part.label, part.group, round(part.value, 2)) for part in parts] == [
        ("docker CLI: send the context", "docker", 0.06),
        ("engine: FROM the base image (pulled when the engine lacks it)", "engine", 2.8),
        ("engine: COPY host-ca-bundle.crt /etc/ssl/certs/host-ca-bundle.crt", "engine", 0.26),
        ("engine: other instructions (ARG, ENV, WORKDIR, LABEL)", "engine", 0.46),
        ("engine: RUN venv + pip install poetry (from the index)", "engine", 10.72),
        ("engine: COPY pyproject.toml poetry.lock ./", "engine", 0.1),
        ("engine: RUN poetry install --no-root (from the index)", "engine", 7.3),
        ("docker CLI: tag, exit", "docker", 0.05),
    ]
    assert sum(part.value for part in parts) == pytest.approx(21.75)


def test_profiling_names_only_functions_that_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row the benchmarks profile names a function its file defines; a moved one is
    named, so the benchmark fails loudly instead of leaving the row out."""
    python = Path(sys.executable)
    assert missing_functions(python) == []
    moved = ("poetry_ci_image/resolve.py", "resolve", "plugin: resolve (settings to tag)")
    monkeypatch.setattr(profiling, "PROFILED", (*profiling.PROFILED, moved))
    assert missing_functions(python) == ["poetry_ci_image/resolve.py:resolve"]


# A warm push with system-packages, as `push --json` reports it: the system packages' part runs
# on a background thread (image/layer_writer.py) but its steps come on the main track, while the
# main path fetches the dependencies; the main path then waits for it.
SYSTEM_PUSH = {
    **PUSHED,
    "elapsed": 3.0,
    "steps": [
        step("resolve the lock to its tag", 0.0, 0.1),
        step("ask the registry for the tag", 0.1, 0.05),
        step("read the base image's manifest and config", 0.15, 0.05),
        step("fetch and install the locked files", 0.3, 1.0),
        step("fetch and read the system packages", 0.6, 0.9),
        step("write the system packages' layers", 1.5, 0.4),
        step("write the dependency layers", 1.3, 0.2),
        step("wait for Poetry's layers", 1.5, 0.0),
        step("wait for the system packages' layers", 1.5, 0.4),
        step("send the blobs and the manifest", 2.0, 0.5),
        step("attach the SBOMs", 2.5, 0.2),
    ],
}


def test_the_system_packages_part_is_read_as_made_in_parallel() -> None:
    """The system packages' fetch and layers are background work, whatever track the plugin
    names; the main path's wait for them is a part of it; the parts still sum to the command."""
    log = read_push_record(json.dumps(SYSTEM_PUSH), 3.5)
    assert sum(part.value for part in log.parts) == pytest.approx(3.5)
    labels = [part.label for part in log.parts]
    assert "wait for the system packages' layers (made in parallel)" in labels
    assert not any("fetch the system packages" in label for label in labels)
    assert [(part.label, part.group) for part in log.background] == [
        ("fetch the system packages' .debs, check and read them", "system"),
        ("write the system packages' layers (tar + gzip)", "system"),
    ]
    between = next(part for part in log.parts if part.label == "the plugin, between its steps")
    assert between.value == pytest.approx(3.0 - 2.5)


def test_the_layers_of_the_system_packages_and_what_they_hold() -> None:
    """Debian's versions are no Python versions: a system layer holds no Python package, and
    names its Debian packages."""
    layers = [
        Layer(digest("1"), 3_000_000, "system packages: libssl3 3.0.17-1~deb12u2"),
        Layer(digest("2"), 900_000, "system packages: libpq5 15.14-0+deb12u1, media-types 10.0.0"),
        Layer(digest("3"), 40_000, "dpkg's and apt's records of the system packages"),
        Layer(digest("4"), 16_600_000, "numpy 2.4.6"),
    ]
    assert [layer.digest for layer in system_layers(layers)] == [digest(n) for n in "123"]
    assert debian_packages(layers[1].comment) == {
        "libpq5": "15.14-0+deb12u1",
        "media-types": "10.0.0",
    }
    assert debian_packages(layers[3].comment) == {}
    assert [layer.packages for layer in layers[:3]] == [{}, {}, {}]


def test_the_baseline_apt_installs_the_system_packages_before_poetry() -> None:
    """With system packages, one RUN of apt-get before Poetry's install step, its lists removed
    in the same layer; without, the plain recipe byte for byte, so figures 1 to 11 keep their
    md5 tags."""
    plain = baseline.dockerfile("2.5.1", "base")
    assert "apt-get" not in plain
    with_system = baseline.dockerfile("2.5.1", "base", ["libpq5", "media-types"])
    run = (
        "RUN apt-get update \\\n"
        " && apt-get install -y --no-install-recommends libpq5 media-types \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
    )
    assert run in with_system
    assert with_system.index(run) < with_system.index('RUN python3 -m venv "$POETRY_HOME"')
    assert with_system.replace(run, "").replace(
        "# The system packages the project needs at run time, from the base's own apt sources.\n",
        "",
    ) == plain.replace("# The recipe:", "\n# The recipe:")


def test_the_apt_step_of_a_build_is_a_system_part() -> None:
    """The build's apt-get step is its own part, of the group the analysis calls the system
    packages, and the parts still sum to the build."""
    lines = list(CLASSIC_BUILD)
    apt = "Step 5/11 : RUN apt-get update  && apt-get install -y --no-install-recommends libpq5"
    lines.insert(7, (3.22, apt))
    parts = baseline.build_parts(Timeline(21.75, tuple(lines)))
    system = [part for part in parts if part.group == "system"]
    assert [(part.label, round(part.value, 2)) for part in system] == [
        ("engine: RUN apt-get update + install the system packages (from the archive)", 0.06)
    ]
    assert sum(part.value for part in parts) == pytest.approx(21.75)


def test_a_difference_of_alternated_commands_is_a_goal_in_seconds() -> None:
    """What one push adds to another: the median of the per-round differences, with their
    interquartile range, shown and judged in seconds."""
    difference = paired_difference([(1.9, 1.0), (2.1, 1.0), (1.4, 1.1), (1.8, 0.9), (3.0, 1.0)])
    assert difference.median == pytest.approx(0.9)
    check = Check("adds at most 1 s", difference, 1.0, False, "s")
    assert (check.met, check.show(check.ratio.median), check.show_target()) == (
        True,
        "+0.90 s",
        "<= +1 s",
    )
    assert check.within_noise


def overhead_figure(added: float) -> Figure:
    """Figure 12's warm push with and without system packages, `added` seconds apart."""
    alone, with_system = Samples((0.7, 0.8, 0.7)), Samples((0.7 + added, 0.8 + added, 0.7 + added))
    figure = Figure(
        12,
        "System packages",
        "canned",
        [Row("alone", alone), Row("with", with_system)],
        [
            warm_overhead(
                with_system, alone, Compared("with: parts", "alone: parts", "with: in parallel")
            )
        ],
    )
    common = [Segment("Poetry start-up and exit", 0.4, group="poetry")]
    figure.breakdowns["with: parts"] = [
        *common,
        Segment("wait for the system packages' layers (made in parallel)", added, group="system"),
    ]
    figure.breakdowns["alone: parts"] = list(common)
    figure.breakdowns["with: in parallel"] = [
        Segment("fetch the system packages' .debs, check and read them", 1.4, group="system")
    ]
    figure.totals |= {"with: parts": 0.4 + added, "alone: parts": 0.4}
    return figure


def test_a_missed_overhead_says_which_parts_make_the_difference() -> None:
    """Figure 12: the push with system packages against the same push without, read from the
    goal's `compared` titles: the parts that differ, every part, what ran in parallel."""
    figure = overhead_figure(1.3)
    analyse([figure])
    text = "\n".join(figure.analysis)
    assert figure.analysis[0].startswith(
        "the system packages add at most 1 s to a warm push: +1.30 s (the median of the "
        "per-round differences"
    )
    assert "what makes the difference: wait for the system packages' layers (made in " in text
    assert "parallel) +1.30 s; Poetry start-up and exit +0.00 s." in text
    assert "fetch the system packages' .debs, check and read them 1.40 s" in text
    met = overhead_figure(0.2)
    analyse([met])
    assert met.analysis == []


def rendered(*figures: Figure) -> str:
    facts = RunFacts(
        command="python -m benchmarks.run --index-url URL",
        date="2026-12-03 18:58 UTC",
        minutes=22,
        machine={"CPU": "2 cores"},
        builds=3,
        pairs=10,
        baseline_dockerfile="FROM base\n",
        again="Figure 11 was measured again by `run --only 11` on 2026-12-03 (commit 1; load 2.0).",
    )
    return render(facts, figures)


def test_a_figure_measured_alone_is_spliced_into_the_results_as_written() -> None:
    """`--only 12` without the last run's figures: figure 12's section and summary rows go
    where a full render puts them; every other part stays as written; the note of when it was
    measured replaces that of an earlier splice of the same figure, and keeps the others."""
    one, eight = cold_figure(9.8, 27.2), cold_figure(9.8, 27.2)
    eight.number = 8
    twelve = overhead_figure(0.2)
    written = rendered(one, eight)
    note = "Figure 12 was measured by `run --only 12` on 2026-12-07 (commit 2; load 0.5)."
    spliced = splice(written, note, [twelve])
    whole = rendered(one, eight, twelve)
    assert spliced == whole.replace(" (commit 1; load 2.0).", f" (commit 1; load 2.0). {note}")
    again = "Figure 12 was measured by `run --only 12` on 2026-12-08 (commit 3; load 0.4)."
    twice = splice(spliced, again, [overhead_figure(0.3)])
    assert twice.count("Figure 12 was measured") == 1
    assert "Figure 11 was measured again" in twice
    assert twice.count("## 12. ") == 1
    assert (
        "| 12 | the system packages add at most 1 s to a warm push (<= +1 s) | +0.30 s |" in twice
    )
    assert twice.index("| 8 |") < twice.index("| 12 |")
    assert twice.index("## 8. ") < twice.index("## 12. ") < twice.index("## The baseline")
