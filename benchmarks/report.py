"""benchmarks/RESULTS.md: the machine, the versions, every figure, the verdict on every goal."""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.results import account


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Sequence

    from benchmarks.results import Check
    from benchmarks.results import Figure
    from benchmarks.results import ProfileRow
    from benchmarks.results import Row
    from benchmarks.results import Segment


@dataclass(frozen=True)
class RunFacts:
    command: str
    date: str
    minutes: float
    machine: dict[str, str]
    builds: int
    pairs: int
    baseline_dockerfile: str
    again: str = ""  # figures measured again later (`--only`): which, by what, when


HOW_TO_READ = """\
Each figure gives the median over its runs and, in brackets, the lowest and the highest run.
A ratio against the baseline (figures 1, 7, 8 and 12) is that of the medians; its band runs from
the least to the most favourable pairing of runs (min/max to max/min). Where two commands of the
plugin alternate round by round (figures 2, 5, 6 and 9), the ratio is the median of the
per-round ratios and its band their interquartile range; a difference of two alternated
commands (figure 12's warm push with and without system packages) is the median of the
per-round differences, with their interquartile range. A goal is met or missed on the ratio;
"within noise" means its band reaches across the goal, so a rerun may flip it. A breakdown of
seconds is the median run's (the run whose total is the median), part by part: its parts sum to
that run's total, and a time no part covers would show as a part of its own."""


def render(facts: RunFacts, figures: Sequence[Figure]) -> str:
    parts = [
        "# Benchmark results: poetry-ci-image against the plain Dockerfile recipe\n",
        f"Written by `{facts.command}` on {facts.date}; the run took {facts.minutes:.0f} min "
        f"({_plural(facts.builds, 'run')} per image build, {_plural(facts.pairs, 'round')} of "
        "alternated short commands, twice that for figure 5). The package index is the one "
        "given by --index-url; no file names it."
        + (f" {facts.again}" if facts.again else "")
        + "\n",
        _machine(facts.machine),
        _how_to_read(),
        _summary(figures),
    ]
    parts += [_figure(figure) for figure in figures]
    parts.append(_baseline(facts))
    return "\n".join(parts).rstrip("\n") + "\n"


_SECTION = re.compile(r"(?m)^(?=## )")
_FIGURE_SECTION = re.compile(r"## (\d+)\. ")
_SUMMARY_ROW = re.compile(r"\| (\d+) \| ")
_HOW_TO_READ = "## How to read the numbers"


def splice(existing: str, again: str, figures: Sequence[Figure]) -> str:
    """RESULTS.md as `existing` has it, with `figures` (measured since) in place of their own
    or added: their rows of the summary and their sections, in the order of their numbers, and
    the sentence `again` (which says by what and when they were measured) at the end of the
    first paragraph, in place of one about the same figures. "How to read the numbers" as it
    reads now; every other part is kept as it was written."""
    numbers = {figure.number for figure in figures}
    head, *sections = _SECTION.split(existing)
    before: list[str] = [_with_again(head, again, numbers)]
    found: dict[int, str] = {figure.number: _figure(figure) for figure in figures}
    after: list[str] = []
    others = before  # the sections before the figures, then those after them (the baseline)
    for section in sections:
        number = _FIGURE_SECTION.match(section)
        if number is not None:
            found.setdefault(int(number[1]), section)
            others = after
        elif section.startswith(_HOW_TO_READ):
            others.append(_how_to_read())
        elif section.startswith("## Summary"):
            others.append(_spliced_summary(section, figures))
        else:
            others.append(section)
    ordered = [found[number] for number in sorted(found)]
    parts = [part.rstrip("\n") + "\n" for part in (*before, *ordered, *after)]
    return "\n".join(parts)


def _with_again(head: str, again: str, numbers: set[int]) -> str:
    """The head's first paragraph without the sentence of an earlier run of the same figures,
    and with `again`."""
    listed = ", ".join(map(str, sorted(numbers)))
    earlier = re.compile(
        rf" Figures? {re.escape(listed)} was measured (again )?by `[^`]*` on [^()]*\([^()]*\)\."
        r"(?= |$)"
    )
    title, _, paragraph = head.rstrip("\n").partition("\n\n")
    paragraph = earlier.sub("", paragraph)
    return f"{title}\n\n{paragraph} {again}\n"


def _spliced_summary(section: str, figures: Sequence[Figure]) -> str:
    """The summary's rows of other figures as they were, those of `figures` as they are."""
    numbers = {figure.number for figure in figures}
    lines = section.rstrip("\n").split("\n")
    rows = [line for line in lines if _SUMMARY_ROW.match(line)]
    kept = [line for line in rows if int(_row_number(line)) not in numbers]
    table = sorted([*kept, *_summary_rows(figures)], key=lambda line: int(_row_number(line)))
    return "\n".join([*(line for line in lines if line not in rows), *table]) + "\n"


def _row_number(line: str) -> str:
    match = _SUMMARY_ROW.match(line)
    return match[1] if match else "0"


def _how_to_read() -> str:
    return f"{_HOW_TO_READ}\n\n{HOW_TO_READ}\n"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _machine(machine: dict[str, str]) -> str:
    lines = ["## Machine and versions\n", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    return "\n".join(lines) + "\n"


def _summary(figures: Sequence[Figure]) -> str:
    lines = [
        "## Summary\n",
        "| Figure | Goal | Measured | Band | Verdict |",
        "|---|---|---|---|---|",
        *_summary_rows(figures),
    ]
    return "\n".join(lines) + "\n"


def _summary_rows(figures: Sequence[Figure]) -> list[str]:
    return [
        f"| {figure.number} | {check.goal} ({check.show_target()}) "
        f"| {check.show(check.ratio.median)} | {_band(check)} | {_verdict(check)} |"
        for figure in figures
        for check in figure.checks
    ]


def _figure(figure: Figure) -> str:
    lines = [f"## {figure.number}. {figure.title}\n", figure.what + "\n"]
    lines += ["| | median | lowest - highest | runs |", "|---|---:|---:|---:|"]
    lines += [_row(row) for row in figure.rows]
    lines.append("")
    for check in figure.checks:
        lines.append(
            f"- Goal: {check.goal} ({check.show_target()}): {check.show(check.ratio.median)} "
            f"[{_band(check)}]: **{_verdict(check)}**."
        )
    lines += [f"- {note}" for note in figure.notes]
    lines.append("")
    for title, segments in figure.breakdowns.items():
        if segments:
            whole = account(segments, figure.totals.get(title))
            lines += [_breakdown(title, whole.parts), ""]
    for title, rows in figure.profiles.items():
        lines += [_profile(title, rows), ""]
    if figure.analysis:
        lines += ["**Where the time goes.**", ""]
        lines += [paragraph + "\n" for paragraph in figure.analysis]
    return "\n".join(lines)


def _row(row: Row) -> str:
    samples = row.samples
    show = _formatter(row.unit)
    spread = f"{show(samples.low)} - {show(samples.high)}" if samples.count > 1 else "-"
    return f"| {row.label} | {show(samples.median)} | {spread} | {samples.count} |"


def _formatter(unit: str) -> Callable[[float], str]:
    if unit == "MB":
        return lambda value: f"{value:.2f} MB" if abs(value) < 10 else f"{value:.0f} MB"
    if unit == "":
        return lambda value: f"{value:g}"
    return lambda value: f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _breakdown(title: str, segments: Sequence[Segment]) -> str:
    total = sum(segment.value for segment in segments)
    show = _formatter(segments[0].unit)
    lines = [f"*{title}*\n", "| part | value | share of the sum |", "|---|---:|---:|"]
    lines += [
        f"| {segment.label} | {show(segment.value)} | "
        f"{segment.value / total * 100 if total else 0:.0f} % |"
        for segment in segments
    ]
    lines.append(f"| sum | {show(total)} | |")
    return "\n".join(lines)


def _profile(title: str, rows: Sequence[ProfileRow]) -> str:
    lines = [
        f"*{title}; cumulative seconds inflated by the profiler, shares are what counts*\n",
        "| function | calls | cumulative | share |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {row.function} | {row.calls} | {row.seconds:.2f} s | {row.share * 100:.0f} % |"
        for row in rows
    ]
    return "\n".join(lines)


def _band(check: Check) -> str:
    return f"{check.show(check.ratio.low)} to {check.show(check.ratio.high)}"


def _verdict(check: Check) -> str:
    verdict = "met" if check.met else "missed"
    return f"{verdict} (within noise)" if check.within_noise else verdict


def _baseline(facts: RunFacts) -> str:
    return "\n".join(
        [
            "## The baseline\n",
            "The plain recipe's deps job: `docker build` on the benchmark's engine (Debian's "
            "dockerd 20.10, classic builder), then `docker push` to the benchmark's registry. "
            "Poetry goes into its own venv (the base image has no pip; `python3 -m venv` brings "
            "one), the project's dependencies into an in-project venv, and the recipe removes "
            "Poetry's and pip's caches so that they do not count against its size. "
            "The tag is the md5 of pyproject.toml + poetry.lock + Dockerfile. The base is the "
            "one the plugin reads, in the same registry (there is no Docker Hub here): the "
            "engine pulls it, and `docker push` mounts its layer as the plugin does.\n",
            "The only deviation from the plain recipe: this machine reaches the index through "
            "an HTTPS proxy whose CA only the host trusts, so the build copies the host's CA "
            "bundle and sets PIP_CERT, REQUESTS_CA_BUNDLE and SSL_CERT_FILE. The index pip "
            "installs Poetry from comes in as the build argument PIP_INDEX_URL (the index given "
            "by --index-url, as for the plugin); Poetry in the image reads it from pyproject.toml "
            "like the plugin on the host.\n",
            "```dockerfile",
            facts.baseline_dockerfile.rstrip("\n"),
            "```",
        ]
    )
