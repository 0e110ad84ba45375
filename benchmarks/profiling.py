"""Where the time goes: a command's output timed line by line (baseline.py names a build's
steps), and cProfile excerpts of Poetry commands."""

from __future__ import annotations

import ast
import pstats
import subprocess
import time

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.results import ProfileRow
from benchmarks.results import Segment
from benchmarks.timing import CommandFailed


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping
    from collections.abc import Sequence


@dataclass(frozen=True)
class Timeline:
    """A command's output lines, each with the seconds since the command started."""

    seconds: float
    lines: tuple[tuple[float, str], ...]

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


def run_streamed(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> Timeline:
    """Run a command (stdout and stderr merged), stamping each line as it arrives."""
    started = time.perf_counter()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))
        status = process.wait()
    seconds = time.perf_counter() - started
    if status != 0:
        tail = "\n".join(line for _, line in lines[-30:])
        raise CommandFailed(f"`{' '.join(argv)}` in {cwd} exited {status}:\n{tail}")
    return Timeline(seconds, tuple(lines))


def segments(
    timeline: Timeline,
    label_of: Callable[[str], tuple[str, str] | None],
    first: tuple[str, str],
) -> list[Segment]:
    """Split the run at the lines `label_of` names (label, group); the parts, in order.

    `first` names the part before the first such line. Parts with the same label are summed;
    the parts sum to the run's seconds.
    """
    marks: list[tuple[float, str, str]] = [(0.0, *first)]
    for offset, line in timeline.lines:
        named = label_of(line.strip())
        if named is not None:
            marks.append((offset, *named))
    return parts_between(marks, timeline.seconds)


def parts_between(marks: Sequence[tuple[float, str, str]], end: float) -> list[Segment]:
    """(offset, label, group) marks as parts that run from one mark to the next (the last to
    `end`); the same label summed, in the order labels first appear."""
    ends = [offset for offset, _, _ in marks[1:]] + [end]
    totals: dict[str, float] = {}
    groups: dict[str, str] = {}
    for (start, label, group), stop in zip(marks, ends, strict=True):
        totals[label] = totals.get(label, 0.0) + (stop - start)
        groups[label] = group
    return [Segment(label, seconds, group=groups[label]) for label, seconds in totals.items()]


# --------------------------------------------------------------------------- cProfile


# (path suffix, function name, what to call it): Poetry's and the plugin's steps of a command.
PROFILED = (
    ("poetry/console/application.py", "main", "poetry (whole command)"),
    ("poetry/console/application.py", "_load_plugins", "Poetry: load plugins"),
    ("poetry/factory.py", "create_poetry", "Poetry: Factory.create_poetry"),
    ("poetry_ci_image/tag/resolve.py", "resolve", "plugin: resolve (settings to tag)"),
    ("poetry_ci_image/poetry/planner.py", "plan_install", "plugin: plan_install"),
    ("poetry/packages/locker.py", "is_fresh", "Poetry: Locker.is_fresh"),
    ("poetry/packages/locker.py", "_get_lock_data", "Poetry: Locker._get_lock_data"),
    ("poetry/packages/locker.py", "locked_repository", "Poetry: Locker.locked_repository"),
    ("poetry/installation/installer.py", "run", "Poetry: Installer.run"),
    ("poetry_ci_image/poetry/planner.py", "_planned", "plugin: _planned (Chooser per package)"),
    ("tomllib/_parser.py", "loads", "tomllib.loads (pyproject.toml, poetry.lock)"),
    (
        "poetry_ci_image/registry/client.py",
        "manifest_digest",
        "plugin: RegistryClient.manifest_digest",
    ),
)


def profile_command(
    python: Path, script: Path, args: Sequence[str], *, cwd: Path, env: Mapping[str, str], out: Path
) -> list[ProfileRow]:
    """Run `script args` under cProfile once; the rows of PROFILED that the run went through.

    Fails loudly when a row of PROFILED names a function its file no longer defines (a move or
    a rename), rather than leave the row out of every report from then on."""
    missing = missing_functions(python)
    if missing:
        raise CommandFailed(
            "benchmarks/profiling.py's PROFILED names functions that do not exist (moved or "
            f"renamed?): {', '.join(missing)}. Update PROFILED."
        )
    argv = [str(python), "-m", "cProfile", "-o", str(out), str(script), *args]
    done = subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, text=True)
    if done.returncode != 0:
        raise CommandFailed(f"profiling `{' '.join(args)}` failed:\n{done.stderr[-2000:]}")
    rows = profile_rows(pstats.Stats(str(out)))
    if not rows or rows[0].function != PROFILED[0][2]:
        raise CommandFailed(f"the profile of `{' '.join(args)}` lacks {PROFILED[0][2]!r}")
    return rows


def profile_rows(stats: pstats.Stats) -> list[ProfileRow]:
    table = stats.stats  # type: ignore[attr-defined]
    found: dict[str, tuple[int, float]] = {}
    for (filename, _, function), (_, calls, _, cumulative, _) in table.items():
        for suffix, name, label in PROFILED:
            if function == name and filename.replace("\\", "/").endswith(suffix):
                previous = found.get(label, (0, 0.0))
                found[label] = (previous[0] + calls, max(previous[1], cumulative))
    total = found.get(PROFILED[0][2], (1, 1.0))[1]
    return [
        ProfileRow(label, found[label][0], found[label][1], found[label][1] / total)
        for _, _, label in PROFILED
        if label in found
    ]


def missing_functions(python: Path) -> list[str]:
    """The rows of PROFILED whose file (found on `python`'s path, where the profiled command
    imports it from) does not define the function: `path:function`."""
    roots = subprocess.run(
        [str(python), "-c", "import sys; print('\\n'.join(p for p in sys.path if p))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    missing = []
    for suffix, name, _ in PROFILED:
        files = [Path(root) / suffix for root in roots if (Path(root) / suffix).is_file()]
        if not any(name in _defined(file) for file in files):
            missing.append(f"{suffix}:{name}")
    return missing


def _defined(file: Path) -> set[str]:
    tree = ast.parse(file.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
