"""Where the time goes, for each figure that misses a goal: paragraphs made of the run's numbers.

Nothing here is measured: it reads the rows, breakdowns, profiles and facts the figures hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.cold import BASELINE_PARTS
from benchmarks.cold import PLUGIN_PARTS


if TYPE_CHECKING:
    from collections.abc import Sequence

    from benchmarks.profiling import ProfileRow
    from benchmarks.results import Check
    from benchmarks.results import Figure


# Profile rows that only wrap others: left out of "where the time goes".
_WRAPPERS = ("poetry (whole command)", "plugin: resolve (settings to tag)")
SIGNIFICANT_SHARE = 0.08


def analyse(figures: Sequence[Figure]) -> None:
    """Fill `analysis` of the figures whose goals were missed."""
    explain = {
        1: _cold_build,
        2: _command_time,
        4: _image_size,
        5: _load_overhead,
        6: _command_time,
    }
    for figure in figures:
        missed = [check for check in figure.checks if not check.met]
        if missed and figure.number in explain:
            figure.analysis = explain[figure.number](figure, missed)


# --------------------------------------------------------------------------- figure 1


def _cold_build(figure: Figure, missed: Sequence[Check]) -> list[str]:
    plugin = figure.row("plugin").samples.median
    base = figure.row("baseline").samples.median
    parts = figure.breakdowns.get(PLUGIN_PARTS, [])
    base_parts = figure.breakdowns.get(BASELINE_PARTS, [])
    if not parts:
        return []
    engine = sum(p.value for p in parts if p.label.startswith("engine:"))
    host = sum(p.value for p in parts) - engine
    copies = sum(p.value for p in parts if p.label.startswith("engine: COPY"))
    largest = sorted(parts, key=lambda part: part.value, reverse=True)[:4]
    target = base / 3
    paragraphs = [
        f"The plugin's cold build took {plugin:.1f} s (median). By the medians of its parts: "
        f"{host:.1f} s on the host (Poetry, fetching, writing and sending the context), "
        f"{engine:.1f} s of build steps in the engine. The largest parts: "
        + "; ".join(f"{part.label} {part.value:.1f} s" for part in largest)
        + ". The baseline spends its time in "
        + " and ".join(
            f"{part.label.removeprefix('engine: ')} ({part.value:.1f} s)"
            for part in sorted(base_parts, key=lambda part: part.value, reverse=True)[:2]
        )
        + ", downloading and installing in the same steps."
    ]
    startup = sum(p.value for p in parts if p.label.startswith("Poetry start-up"))
    paragraphs.append(
        f"3x the baseline's {base:.1f} s is {target:.1f} s. The engine's COPY steps alone, "
        f"which only put the venvs' files into image layers, took {copies:.1f} s (the classic "
        "builder copies the files into the container's file system, then tars and hashes them "
        "to commit the layer; the baseline pays the same for its files inside its RUN steps). "
        f"With Poetry's start-up and the plan ({startup:.1f} s), that is {copies + startup:.1f} s "
        "before any file is fetched or sent"
        + (
            ": 3x is out of reach on this engine, whatever the host side does."
            if copies + startup >= target
            else f", {target - copies - startup:.1f} s short of the goal for all the rest."
        )
    )
    fetch = sum(p.value for p in parts if p.label.startswith("host: fetch"))
    if fetch >= 1:
        paragraphs.append(
            f"On the host, fetching the locked files and Poetry's wheels for the image took "
            f"{fetch:.1f} s on this fresh runner. Poetry's cache keeps both: a runner that keeps "
            "Poetry's cache between jobs skips most of it."
        )
    return paragraphs


# --------------------------------------------------------------------------- figures 2 and 6


def _command_time(figure: Figure, missed: Sequence[Check]) -> list[str]:
    version = figure.row("`poetry --version`").samples.median
    paragraphs: list[str] = []
    for check in missed:
        variant = "fresh runner" if "fresh runner" in check.goal else "cache kept"
        rows = [row for row in figure.rows if variant in row.label]
        profile = next((p for title, p in figure.profiles.items() if variant in title), None)
        if not rows or profile is None:
            continue
        seconds = rows[0].samples.median
        paragraphs.append(_profile_paragraph(rows[0].label, seconds, version, profile))
        paragraphs += _diagnosis(variant, seconds, version, profile)
    return paragraphs


def _profile_paragraph(
    label: str, seconds: float, version: float, profile: Sequence[ProfileRow]
) -> str:
    significant = [
        row for row in profile if row.function not in _WRAPPERS and row.share >= SIGNIFICANT_SHARE
    ]
    return (
        f"{label}: {seconds:.2f} s, {seconds - version:.2f} s more than `poetry --version` "
        f"({version:.2f} s). Under cProfile, as shares of the whole run (and those shares of "
        f"{seconds:.2f} s): "
        + "; ".join(
            f"{row.function} {row.share * 100:.0f} % (about {row.share * seconds:.2f} s"
            + (f", {row.calls} calls" if row.calls > 1 else "")
            + ")"
            for row in significant
        )
        + "."
    )


def _diagnosis(
    variant: str, seconds: float, version: float, profile: Sequence[ProfileRow]
) -> list[str]:
    share = {row.function: row.share for row in profile}
    loads_project = share.get("Poetry: Factory.create_poetry", 0.0)
    installer = share.get("Poetry: Installer.run", 0.0)
    parses = (
        share.get("Poetry: Locker.is_fresh", 0.0),
        share.get("Poetry: Locker._get_lock_data", 0.0),
    )
    budget = 0.5 * version
    if variant == "cache kept" and loads_project >= SIGNIFICANT_SHARE:
        return [
            "With the plan served from the cache, the project is still loaded into Poetry "
            f"(Factory.create_poetry, about {loads_project * seconds:.2f} s) although nothing "
            "after the cache lookup and the registry request needs it; 1.5x of "
            f"`poetry --version` leaves {budget:.2f} s for all of the plugin's work."
        ]
    if variant == "fresh runner" and installer >= SIGNIFICANT_SHARE:
        work = (installer + loads_project) * seconds
        return [
            f"1.5x of `poetry --version` leaves {budget:.2f} s for all of the plugin's work; "
            "on a fresh runner it must load the project into Poetry and run Poetry's installer "
            f"over the lock (the plan is what `poetry install` would do, by design), about "
            f"{work:.2f} s together on this lock"
            + (
                f" (of which Poetry's installer reads poetry.lock twice: Locker.is_fresh about "
                f"{parses[0] * seconds:.2f} s, then Locker._get_lock_data about "
                f"{parses[1] * seconds:.2f} s)"
                if min(parses) >= 0.05
                else ""
            )
            + ". That cannot fit without re-implementing Poetry's installer; the plugin caches "
            "the plan in Poetry's cache instead, so a CI that keeps Poetry's cache directory "
            "between jobs gets the cache-kept figure."
        ]
    return []


# --------------------------------------------------------------------------- figure 4


def _image_size(figure: Figure, missed: Sequence[Check]) -> list[str]:
    facts = figure.facts
    needed = ("base image", "plugin /opt/venv", "plugin /opt/poetry")
    if not all(key in facts for key in needed):
        return []
    baseline = figure.row("baseline image").samples.median
    plugin = figure.row("plugin image").samples.median
    budget = 0.85 * baseline
    base, venv, poetry = facts["base image"], facts["plugin /opt/venv"], facts["plugin /opt/poetry"]
    bytecode = facts.get("plugin /opt/poetry bytecode", 0.0)
    left = budget - base - venv
    paragraphs = [
        f"15 % smaller than the baseline's {baseline:.0f} MB is at most {budget:.0f} MB; the "
        f"plugin's image is {plugin:.0f} MB. Both images carry the {base:.0f} MB base image. "
        f"The locked packages, unpacked without bytecode, are {venv:.0f} MB of files in the "
        f"plugin's /opt/venv; the baseline's /app/.venv holds the same packages "
        f"({facts.get('baseline /app/.venv', 0.0):.0f} MB, pip included). That leaves about "
        f"{left:.0f} MB for Poetry's venv, which takes {poetry:.0f} MB of files in the plugin's "
        f"image ({bytecode:.0f} MB of it bytecode; the baseline's Poetry venv takes "
        f"{facts.get('baseline /opt/poetry', 0.0):.0f} MB with pip and setuptools)."
    ]
    if poetry - bytecode > left:
        paragraphs.append(
            f"Poetry's venv without bytecode ({poetry - bytecode:.0f} MB) does not fit in "
            f"{left:.0f} MB: with Poetry in the image, which the issue asks for, the goal cannot "
            "be met. The plugin already leaves pip and setuptools out of both venvs"
            + (" and ships Poetry without bytecode" if bytecode < 1 else "")
            + f". Without Poetry in the image (`poetry = false`) it would be about "
            f"{base + venv:.0f} MB, {(1 - (base + venv) / baseline) * 100:.0f} % smaller."
        )
    elif poetry > left:
        paragraphs.append(
            f"Leaving out the bytecode of Poetry's venv ({bytecode:.0f} MB) would reach it, at "
            "the cost of Poetry compiling its modules on first use in every job."
        )
    starts = [row.samples.median for row in figure.rows if "first command" in row.label]
    if len(starts) == 2 and starts[0] > 1.3 * starts[1] and bytecode < 1:
        paragraphs.append(
            f"The price of Poetry without bytecode: as the first command of a new container, "
            f"`poetry --version` takes {starts[0]:.2f} s in the plugin's image against "
            f"{starts[1]:.2f} s in the baseline's, whose Poetry venv was compiled by pip; every "
            "CI job that runs Poetry in the image compiles Poetry's modules once."
        )
    return paragraphs


# --------------------------------------------------------------------------- figure 5


def _load_overhead(figure: Figure, missed: Sequence[Check]) -> list[str]:
    check = missed[0]
    note = (
        "its band reaches below the goal: the difference is within the noise of this machine"
        if check.within_noise
        else "the whole band is above the goal"
    )
    return [
        f"`poetry --version` with the plugin took {check.show(check.ratio.median)} against "
        f"without it (per-pair ratios, interquartile range {check.show(check.ratio.low)} to "
        f"{check.show(check.ratio.high)}); {note}."
    ]
