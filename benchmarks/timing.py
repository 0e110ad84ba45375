"""Repeated measurements: samples, their median and spread, and ratios between two of them."""

from __future__ import annotations

import statistics
import subprocess
import time

from dataclasses import dataclass
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping
    from collections.abc import Sequence
    from pathlib import Path


class CommandFailed(RuntimeError):
    """A measured command exited non-zero: the benchmark cannot go on."""


@dataclass(frozen=True)
class Samples:
    """Repeated values of one figure (seconds, bytes or counts)."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    @property
    def count(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator: of the medians, and the widest band the samples allow (or,
    from `paired_difference`, a difference and its band)."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, numerator: Samples, denominator: Samples) -> Ratio:
        return cls(
            median=numerator.median / denominator.median,
            low=numerator.low / denominator.high,
            high=numerator.high / denominator.low,
        )


def median_run(totals: Sequence[float]) -> int:
    """The index of the median run (of an even number, the lower of the middle two)."""
    if not totals:
        raise ValueError("no runs")
    order = sorted(range(len(totals)), key=lambda index: totals[index])
    return order[(len(order) - 1) // 2]


def paired_ratio(pairs: Sequence[tuple[float, float]]) -> Ratio:
    """The median of first/second over alternated pairs, with the interquartile range."""
    return _median_and_quartiles([first / second for first, second in pairs])


def paired_difference(pairs: Sequence[tuple[float, float]]) -> Ratio:
    """The median of first - second over alternated pairs, with the interquartile range: what
    one command adds to the other, in its unit (a `Check` shown in "s")."""
    return _median_and_quartiles([first - second for first, second in pairs])


def _median_and_quartiles(values: Sequence[float]) -> Ratio:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no pairs")
    if len(ordered) < 4:
        return Ratio(statistics.median(ordered), ordered[0], ordered[-1])
    quartiles = statistics.quantiles(ordered, n=4)
    return Ratio(statistics.median(ordered), quartiles[0], quartiles[2])


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 3600,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; a non-zero exit stops the benchmark with its output."""
    done = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise CommandFailed(f"`{' '.join(argv)}` in {cwd} exited {done.returncode}:\n{tail}")
    return done


def timed(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall-clock seconds of one run of a command, and its result."""
    started = time.perf_counter()
    done = run(argv, cwd=cwd, env=env)
    return time.perf_counter() - started, done


def alternate(commands: Sequence[Callable[[], float]], rounds: int) -> list[tuple[float, ...]]:
    """`rounds` runs of every command, the order rotating every round so none always goes first.

    Returns one tuple per round, the seconds in the order of `commands`.
    """
    results: list[tuple[float, ...]] = []
    count = len(commands)
    for index in range(rounds):
        shift = index % count
        seconds = [0.0] * count
        for position in [*range(shift, count), *range(shift)]:
            seconds[position] = commands[position]()
        results.append(tuple(seconds))
    return results
