"""What a figure reports: measured rows, ratios checked against the issue's goals, notes."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from benchmarks.profiling import ProfileRow
    from benchmarks.timing import Ratio
    from benchmarks.timing import Samples


@dataclass(frozen=True)
class Row:
    label: str
    samples: Samples
    unit: str = "s"  # "s", "MB" or "" (a count)


@dataclass(frozen=True)
class Check:
    """A goal of the issue: `ratio` compared with `target` (at least, or at most)."""

    goal: str
    ratio: Ratio
    target: float
    at_least: bool
    shown_as: str = "x"  # "x" for a factor, "%" for a relative difference (ratio - 1)

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
        return f"{ratio:.2f}x"

    def show_target(self) -> str:
        sign = ">=" if self.at_least else "<="
        if self.shown_as == "%":
            return f"{sign} {self.target * 100:+.0f} %"
        return f"{sign} {self.target:g}x"


@dataclass(frozen=True)
class Segment:
    """A part of a whole: a build step or phase (median seconds over the runs), an image layer."""

    label: str
    value: float
    unit: str = "s"


@dataclass
class Figure:
    number: int
    title: str
    what: str  # how it was measured, one paragraph
    rows: list[Row]
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    breakdowns: dict[str, list[Segment]] = field(default_factory=dict)
    profiles: dict[str, list[ProfileRow]] = field(default_factory=dict)
    analysis: list[str] = field(default_factory=list)  # where the time goes, for missed goals
    facts: dict[str, float] = field(default_factory=dict)  # named numbers the analysis uses

    def segment(self, breakdown: str, label_part: str) -> float:
        """The sum of the parts of a breakdown whose label contains `label_part`."""
        return sum(s.value for s in self.breakdowns.get(breakdown, []) if label_part in s.label)

    def row(self, label_part: str) -> Row:
        return next(row for row in self.rows if label_part in row.label)
