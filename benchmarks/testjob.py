"""Figure 10: a test job's start in a fresh container of each image (webservice and large).

What every test job of every pipeline runs first, in a new container of the deps image with the
project mounted and no network: `poetry install` (the dependencies are there: it checks them),
the import of the project's main dependencies (what the tests import first), `poetry --version`
(Poetry's own start, as each later `poetry run` pays it); then the same three again in the same
container. Timed inside the container, each command alone. The plugin's image against the plain
recipe's (its venv given to Poetry through VIRTUAL_ENV, as the plugin's image sets it, so that
`poetry install` uses it rather than make a new one in the checkout).
"""

from __future__ import annotations

import subprocess

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from benchmarks import baseline
from benchmarks.bench import log
from benchmarks.bench import rotated
from benchmarks.results import Check
from benchmarks.results import Figure
from benchmarks.results import Row
from benchmarks.timing import Ratio
from benchmarks.timing import Samples


if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.bench import Bench
    from benchmarks.cold import Rounds


# The import names of each project's main dependencies (pyproject.toml's [project]).
IMPORTS = {
    "webservice": (
        "fastapi uvicorn sqlalchemy alembic psycopg2 pandas numpy pydantic_settings httpx redis "
        "celery orjson"
    ),
    "large": (
        "boto3 google.cloud.storage google.cloud.bigquery google.cloud.pubsub azure.storage.blob "
        "azure.identity azure.keyvault.secrets kubernetes numpy pandas pyarrow polars scipy "
        "sklearn statsmodels matplotlib seaborn plotly dask.dataframe openpyxl xlsxwriter "
        "jupyterlab django rest_framework fastapi uvicorn gunicorn httpx requests "
        "pydantic_settings jinja2 bs4 lxml PIL sqlalchemy alembic psycopg2 redis celery "
        "sentry_sdk opentelemetry.sdk prometheus_client structlog tenacity cryptography "
        "paramiko typer rich yaml"
    ),
}
COMMANDS = ("poetry install", "import", "poetry --version")
SCRIPT = """\
set -e
now() {{ date +%s.%N; }}
for round in 1 2; do
  a=$(now)
  poetry install --no-interaction >/tmp/install.log 2>&1 || {{ cat /tmp/install.log >&2; exit 1; }}
  b=$(now); python -c "import {imports}"
  c=$(now); poetry --version >/dev/null
  d=$(now); echo "$a $b $c $d"
done
"""


@dataclass
class Starts:
    """Seconds of each command, first and second time, in fresh containers of one image."""

    first: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in COMMANDS})
    second: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in COMMANDS})

    def add(self, rounds: list[list[float]]) -> None:
        for seconds, times in zip((self.first, self.second), rounds, strict=True):
            for command, start, end in zip(COMMANDS, times, times[1:], strict=False):
                seconds[command].append(end - start)

    def total(self, which: dict[str, list[float]]) -> Samples:
        return Samples(tuple(map(sum, zip(*which.values(), strict=True))))


def figure10(bench: Bench, rounds: Rounds) -> Figure:
    images = {
        "webservice": (rounds.plugin_reference, rounds.baseline_reference, bench.webservice),
        "large": (*_large_images(bench), bench.large),
    }
    figure = Figure(
        10,
        "A test job's start in a fresh container (webservice, large)",
        (__doc__ or "").split("\n\n", 1)[1].replace("\n", " ").strip(),
        [],
        [],
    )
    for name, (plugin_image, recipe_image, project) in images.items():
        starts = {plugin_image: Starts(), recipe_image: Starts()}
        venvs = {plugin_image: "/opt/venv", recipe_image: "/app/.venv"}
        order = list(starts)
        for index in range(bench.repeats.builds + 2):
            for position in rotated(len(order), index):
                image = order[position]
                starts[image].add(_start(bench, image, project, IMPORTS[name], venvs[image]))
        _add(figure, name, starts[plugin_image], starts[recipe_image])
    return figure


def _large_images(bench: Bench) -> tuple[str, str]:
    """The large project's two images: the plugin's pushed and pulled, the recipe's built."""
    project = bench.large
    log("test job start: the large project's images (the plugin's pushed, the recipe's built)")
    pushed = bench.push(project, bench.repository(project))
    bench.engine.pull(pushed.reference)
    context = baseline.prepare_context(
        project, bench.workspace.baseline / project.name, bench.poetry_version, bench.base
    )
    reference = f"{bench.baseline_repository(project)}:{baseline.md5_tag(context)}"
    bench.build_baseline(context, reference)
    return pushed.reference, reference


def _start(bench: Bench, image: str, project: Path, imports: str, venv: str) -> list[list[float]]:
    """The two rounds of commands in one new container: each round's four timestamps."""
    done = subprocess.run(
        [
            "docker", "run", "--rm", "--network", "none",
            "-e", f"VIRTUAL_ENV={venv}",
            "-v", f"{project}:/src", "-w", "/src",
            image, "sh", "-c", SCRIPT.format(imports=", ".join(imports.split())),
        ],
        env=bench.env,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the test job's start failed in {image}:\n{done.stderr[-2000:]}")
    return [[float(value) for value in line.split()] for line in done.stdout.split("\n") if line]


def _add(figure: Figure, name: str, plugin: Starts, recipe: Starts) -> None:
    for command in COMMANDS:
        figure.rows += [
            Row(f"{name}, plugin image: `{command}`", Samples(tuple(plugin.first[command]))),
            Row(f"{name}, baseline image: `{command}`", Samples(tuple(recipe.first[command]))),
            Row(
                f"{name}, plugin image: `{command}` again, same container",
                Samples(tuple(plugin.second[command])),
            ),
        ]
    first, again = plugin.total(plugin.first), plugin.total(plugin.second)
    figure.rows += [
        Row(f"{name}, plugin image: the three, first time", first),
        Row(f"{name}, baseline image: the three, first time", recipe.total(recipe.first)),
        Row(f"{name}, plugin image: the three, again", again),
    ]
    imports = Samples(tuple(plugin.first["import"]))
    figure.checks += [
        Check(
            f"{name}: the import at least 2x faster in the plugin's image than in the baseline's",
            Ratio.of(Samples(tuple(recipe.first["import"])), imports),
            2,
            True,
        ),
        Check(
            f"{name}: the whole start faster in the plugin's image than in the baseline's",
            Ratio.of(recipe.total(recipe.first), first),
            1,
            True,
        ),
        *(
            Check(
                f"{name}: `{command}` in a fresh container within 1.2x of the same, again",
                Ratio.of(
                    Samples(tuple(plugin.first[command])), Samples(tuple(plugin.second[command]))
                ),
                1.2,
                False,
            )
            for command in COMMANDS
        ),
    ]
