"""What a figure reports: measured rows, ratios checked against the issue's goals, notes."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from benchmarks.timing import Ratio
    from benchmarks.timing import Samples


@dataclass(frozen=True)
class Row:
    label: str
    samples: Samples
    unit: str = "s"  # "s", "MB" or "" (a count)


@dataclass(frozen=True)
class Sides:
    """The plugin's job and the baseline's that a goal sets side by side: their seconds, and the
    titles of the breakdowns of their median runs in the figure (analysis.py reads these, never
    the goal's wording)."""

    plugin: Samples
    baseline: Samples
    plugin_parts: str
    baseline_parts: str
    background: str = ""  # the plugin's work made in parallel, when the figure has it


@dataclass(frozen=True)
class Compared:
    """Two variants of the plugin's push that a goal sets against each other (the same push
    with and without something): the titles of the breakdowns of their median runs in the
    figure, and of the first one's work made in parallel (analysis.py reads these)."""

    first_parts: str
    second_parts: str
    background: str = ""


@dataclass(frozen=True)
class Check:
    """A goal of the issue: `ratio` compared with `target` (at least, or at most)."""

    goal: str
    ratio: Ratio
    target: float
    at_least: bool
    # "x" for a factor, "%" for a relative difference (ratio - 1), "s" for a difference in
    # seconds (`ratio` from timing.paired_difference)
    shown_as: str = "x"
    sides: Sides | None = None  # a goal of the plugin's job against the baseline's
    compared: Compared | None = None  # a goal of one push of the plugin against another

    @property
    def met(self) -> bool:
        value = self._value(self.ratio.median)
        return value >= self.target if self.at_least else value <= self.target

    @property
    def within_noise(self) -> bool:
        """The band of the ratio reaches across the target: the verdict could flip on rerun."""
        low, high = sorted((self._value(self.ratio.low), self._value(self.ratio.high)))
        return low <= self.target <= high

    def _value(self, ratio: float) -> float:
        return ratio - 1 if self.shown_as == "%" else ratio

    def show(self, ratio: float) -> str:
        if self.shown_as == "%":
            return f"{(ratio - 1) * 100:+.1f} %"
        if self.shown_as == "s":
            return f"{ratio:+.2f} s"
        return f"{ratio:.2f}x"

    def show_target(self) -> str:
        sign = ">=" if self.at_least else "<="
        if self.shown_as == "%":
            return f"{sign} {self.target * 100:+.0f} %"
        if self.shown_as == "s":
            return f"{sign} {self.target:+g} s"
        return f"{sign} {self.target:g}x"


@dataclass(frozen=True)
class Segment:
    """A part of a whole: a step of a run (seconds), an image layer (MB).

    `group` says what kind of work it is ("engine", "fetch", "upload", ...: see analysis.py),
    set where the part is named, so that no reader has to guess it from the label."""

    label: str
    value: float
    unit: str = "s"
    group: str = ""


@dataclass(frozen=True)
class ProfileRow:
    """A function of a profiled command (benchmarks/profiling.py's PROFILED), as cProfile saw it."""

    function: str
    calls: int
    seconds: float  # cumulative, under the profiler
    share: float  # of the whole profiled run


@dataclass
class Figure:
    number: int
    title: str
    what: str  # how it was measured, one paragraph
    rows: list[Row]
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Parts of a whole, by title: of one run (the median one: they sum to its total), or of an
    # image's layers. `totals` gives the whole a breakdown of seconds adds up to.
    breakdowns: dict[str, list[Segment]] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    profiles: dict[str, list[ProfileRow]] = field(default_factory=dict)
    analysis: list[str] = field(default_factory=list)  # where the time goes, for missed goals
    facts: dict[str, float] = field(default_factory=dict)  # named numbers the analysis uses

    def row(self, label_part: str) -> Row:
        return next(row for row in self.rows if label_part in row.label)


# Breakdown titles that the figures write and the analysis reads.
PLUGIN_PARTS = "plugin: the parts of the median run (timed by its -v log lines)"
PLUGIN_BACKGROUND = (
    "plugin, the same run: Poetry's layer, made in parallel with the parts above (not in their sum)"
)
BASELINE_PARTS = "baseline: the parts of the median run (timed by the build's log lines)"
ONE_PLATFORM_PARTS = "plugin, one platform, empty caches: the parts of the median run (figure 1)"
TWO_PLATFORM_PARTS = "plugin, two platforms, empty caches: the parts of the median run"
TWO_PLATFORM_WARM_PARTS = "plugin, two platforms, Poetry's cache kept: the parts of the median run"
TWO_PLATFORM_BACKGROUND = (
    "plugin, two platforms, the same run: Poetry's layers, made in parallel (not in the sum)"
)
NOT_COVERED = "not covered by any part"
OTHER_GROUP = "other"


@dataclass(frozen=True)
class Account:
    """Every part of a whole, the parts that fall short of (or beyond) it included."""

    parts: tuple[Segment, ...]

    @property
    def total(self) -> float:
        return sum(part.value for part in self.parts)

    def groups(self) -> dict[str, float]:
        """The sum of each group, in the order groups first appear."""
        sums: dict[str, float] = {}
        for part in self.parts:
            sums[part.group] = sums.get(part.group, 0.0) + part.value
        return sums


def account(parts: list[Segment] | tuple[Segment, ...], total: float | None = None) -> Account:
    """The parts, and, when they do not sum to `total`, a part for the difference: a whole is
    never reported as less (or more) than it was."""
    found = list(parts)
    if total is not None:
        rest = total - sum(part.value for part in found)
        if abs(rest) >= 0.005 * max(1.0, abs(total)):
            unit = found[0].unit if found else "s"
            found.append(Segment(NOT_COVERED, rest, unit, OTHER_GROUP))
    return Account(tuple(found))
