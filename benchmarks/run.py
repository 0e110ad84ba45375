"""Run every benchmark and write benchmarks/RESULTS.md.

    .venv/bin/python -m benchmarks.run --index-url URL [--quick]

URL is a PEP 503 simple index of PyPI. See benchmarks/README.md for what is measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import pickle
import sys
import time

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tests.fixtures.locks.generate import Poetry
from tests.support.registry import Registry

from benchmarks import baseline
from benchmarks.analysis import analyse
from benchmarks.bench import Bench
from benchmarks.bench import Repeats
from benchmarks.bench import log
from benchmarks.bump import figure8
from benchmarks.bump import prepare_bumps
from benchmarks.cold import cold_rounds
from benchmarks.cold import figure1
from benchmarks.cold import figure4
from benchmarks.cold import figure7
from benchmarks.cold import figure9
from benchmarks.engine import BASE_REPOSITORY
from benchmarks.engine import BASE_TAG
from benchmarks.engine import BENCH_STATE
from benchmarks.engine import Engine
from benchmarks.engine import push_base
from benchmarks.engine import pushed
from benchmarks.engine import start_engine
from benchmarks.machine import LoadMonitor
from benchmarks.machine import machine_facts
from benchmarks.nochange import figure2
from benchmarks.nochange import figure3
from benchmarks.pulls import figure11
from benchmarks.report import RunFacts
from benchmarks.report import render
from benchmarks.report import splice
from benchmarks.startup import figure5
from benchmarks.startup import figure6
from benchmarks.system import figure12
from benchmarks.testjob import figure10
from benchmarks.workspace import BENCHMARKS
from benchmarks.workspace import REQUIREMENTS
from benchmarks.workspace import Workspace
from benchmarks.workspace import make_venv
from benchmarks.workspace import plugin_source
from benchmarks.workspace import tool_env
from benchmarks.workspace import working_copy


if TYPE_CHECKING:
    from benchmarks.bump import BumpProject
    from benchmarks.results import Figure


FULL = Repeats(builds=3, pairs=10)
SAVED = BENCHMARKS / "work" / "last-run.pickle"  # the last run's figures, for --render-again
# The figures of an `--only` run made without SAVED, spliced into the results file as written.
SPLICED = BENCHMARKS / "work" / "last-spliced.pickle"
ALONE = {3, 5, 6, 8, 11, 12}  # the figures `--only` measures (the others need rounds)
QUICK = Repeats(builds=1, pairs=4)


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.render_again:
        if not SAVED.is_file() and SPLICED.is_file():
            _splice(arguments.output, *pickle.loads(SPLICED.read_bytes()))
            return 0
        facts, figures, host = pickle.loads(SAVED.read_bytes())
        _write(arguments.output, facts, figures, host)
        return 0
    if not arguments.index_url:
        raise SystemExit("--index-url is required to measure")
    only = {int(number) for number in arguments.only.split(",")} if arguments.only else set()
    if only - ALONE:
        raise SystemExit("--only measures figures 3, 5, 6, 8, 11 and 12 (the others need rounds)")
    if only and not SAVED.is_file() and not arguments.output.is_file():
        raise SystemExit(
            f"--only keeps the other figures of the last run ({SAVED}) or, without it, of "
            f"{arguments.output}, and both are missing"
        )
    repeats = QUICK if arguments.quick else FULL
    repeats = Repeats(arguments.builds or repeats.builds, arguments.pairs or repeats.pairs)
    started = time.perf_counter()
    workspace = Workspace(BENCHMARKS / "work")
    workspace.prepare()

    load = LoadMonitor()
    load.start()
    log(f"starting the benchmark engine ({arguments.engine_state})")
    engine = Engine(start_engine(arguments.engine_state))
    log("Poetry venvs with and without the plugin")
    source, plugin_commit = plugin_source(workspace, arguments.plugin_ref)
    requirements = source / REQUIREMENTS
    plugin = make_venv(workspace, "with-plugin", requirements=requirements, plugin=source)
    plain = make_venv(workspace, "without-plugin", requirements=requirements, plugin=None)
    poetry_version = Poetry.at(str(plugin.poetry)).version
    index_url = arguments.index_url.rstrip("/")
    log("working copies of the projects, for the index given by --index-url")
    webservice = working_copy("webservice", workspace, index_url=index_url, poetry=plugin)
    large = working_copy("large", workspace, index_url=index_url, poetry=plugin)
    env = tool_env(workspace, index_url=index_url, docker_host=engine.docker_host)
    log("the previous commit of each one-package bump, locked by Poetry")
    bumps = prepare_bumps(workspace, webservice, plugin, env)

    with Registry(workspace.registry) as registry:
        log("the two-platform base image, into the benchmark's registry")
        base = push_base(registry.host, arguments.engine_state)
        bench = Bench(
            workspace=workspace,
            env=env,
            plugin=plugin,
            plain=plain,
            engine=engine,
            registry_host=registry.host,
            base=base,
            index_url=index_url,
            poetry_version=poetry_version,
            webservice=webservice,
            large=large,
            repeats=repeats,
            build_network=arguments.build_network,
        )
        figures = _measure(bench, bumps, only)
        base_size = pushed(base).size

    load_seen = load.stop()
    facts = RunFacts(
        command=_command(arguments),
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        minutes=(time.perf_counter() - started) / 60,
        machine=machine_facts(engine, poetry_version, plugin_commit, load_seen, base_size),
        builds=repeats.builds,
        pairs=repeats.pairs,
        baseline_dockerfile=baseline.dockerfile(
            poetry_version, f"<registry>/{BASE_REPOSITORY}:{BASE_TAG}"
        ),
    )
    host = urlsplit(index_url).hostname or index_url
    if only and not SAVED.is_file():  # the other figures as the results file has them
        again = (
            f"Figure {', '.join(map(str, sorted(only)))} was measured by `{facts.command}` on "
            f"{facts.date} (commit {plugin_commit}; {repeats.builds} runs per push or build, "
            f"{repeats.pairs} alternated rounds; {facts.minutes:.0f} min; 1-minute load average "
            f"mean {load_seen[0]:.2f}, highest {load_seen[1]:.2f} on {os.cpu_count()} cores)."
        )
        SPLICED.write_bytes(pickle.dumps((again, figures, host)))
        _splice(arguments.output, again, figures, host)
        return 0
    if only:  # the other figures as the last run measured them
        last, kept, _ = pickle.loads(SAVED.read_bytes())
        figures = sorted(
            [figure for figure in kept if figure.number not in only] + figures,
            key=lambda figure: figure.number,
        )
        again = ", ".join(map(str, sorted(only)))
        facts = dataclasses.replace(
            last,
            again=f"Figure {again} was measured again by `{facts.command}` on {facts.date} "
            f"(commit {plugin_commit}; load mean {load_seen[0]:.2f}).",
        )
    SAVED.write_bytes(pickle.dumps((facts, figures, host)))
    SPLICED.unlink(missing_ok=True)
    _write(arguments.output, facts, figures, host)
    return 0


def _write(output: Path, facts: RunFacts, figures: list[Figure], host: str) -> None:
    """Analyse the figures and write RESULTS.md (never naming the index's host)."""
    for figure in figures:
        figure.analysis = []
    analyse(figures)
    _check_and_write(output, render(facts, figures), host)
    log(f"wrote {output} ({facts.minutes:.0f} min)")


def _splice(output: Path, again: str, figures: list[Figure], host: str) -> None:
    """Analyse `figures` and put them into the results file as it is (`report.splice`)."""
    for figure in figures:
        figure.analysis = []
    analyse(figures)
    _check_and_write(output, splice(output.read_text(encoding="utf-8"), again, figures), host)
    log(f"spliced figure(s) {', '.join(str(figure.number) for figure in figures)} into {output}")


def _check_and_write(output: Path, text: str, host: str) -> None:
    if host.lower() in text.lower():
        raise SystemExit(f"RESULTS.md would name {host}: refusing to write it")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")


def _measure(bench: Bench, bumps: list[BumpProject], only: set[int]) -> list[Figure]:
    """Short commands first, on a quiet engine; then the rounds of pushes and builds, and
    what reuses their images; the bumps last (they empty the engine). With `only`, just those
    figures (those that need no rounds of pushes)."""
    if only:
        alone = {3: lambda: figure3(bench), 5: lambda: figure5(bench), 6: lambda: figure6(bench)}
        alone |= {8: lambda: figure8(bench, bumps), 11: lambda: figure11(bench)}
        alone |= {12: lambda: figure12(bench, bumps)}
        return [alone[number]() for number in sorted(only)]
    figures = [figure5(bench), figure6(bench)]
    rounds = cold_rounds(bench)
    figures += [figure1(rounds), figure7(rounds), figure9(rounds), figure4(bench, rounds)]
    figures += [figure2(bench, rounds), figure3(bench), figure10(bench, rounds)]
    figures += [figure8(bench, bumps), figure11(bench), figure12(bench, bumps)]
    return sorted(figures, key=lambda figure: figure.number)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--index-url", help="a PEP 503 simple index of PyPI (required to measure)")
    parser.add_argument(
        "--quick", action="store_true", help="1 run per build and 4 pairs (a smoke run)"
    )
    parser.add_argument("--builds", type=int, help="runs per image build (default 3)")
    parser.add_argument("--pairs", type=int, help="alternated pairs per short command (default 10)")
    parser.add_argument(
        "--plugin-ref",
        metavar="REV",
        help="measure the plugin as committed at REV (default: the working tree as it is)",
    )
    parser.add_argument(
        "--engine-state",
        default=BENCH_STATE,
        help=f"state directory of the benchmark's own engine (default {BENCH_STATE})",
    )
    parser.add_argument(
        "--build-network",
        metavar="NETWORK",
        help="the network of the baseline's build steps (`docker build --network`, for example "
        "host where the engine's bridge is not available; default: the engine's bridge)",
    )
    parser.add_argument(
        "--output", type=Path, default=BENCHMARKS / "RESULTS.md", help="where to write the results"
    )
    parser.add_argument(
        "--only",
        metavar="N[,N]",
        help="measure only these figures (3, 5, 6, 8, 11, 12) and keep the last run's others "
        "(without a last run, the results file's)",
    )
    parser.add_argument(
        "--render-again",
        action="store_true",
        help="measure nothing: analyse the last run's figures again and rewrite the results",
    )
    return parser


def _command(arguments: argparse.Namespace) -> str:
    words = [".venv/bin/python -m benchmarks.run --index-url URL"]
    if arguments.quick:
        words.append("--quick")
    for name in ("builds", "pairs", "plugin_ref", "build_network", "only"):
        if getattr(arguments, name):
            words.append(f"--{name.replace('_', '-')} {getattr(arguments, name)}")
    return " ".join(words)


if __name__ == "__main__":
    sys.exit(main())
