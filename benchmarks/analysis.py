"""Where the time goes, for each figure that misses a goal: paragraphs made of the run's numbers.

Nothing here is measured: it reads the rows, breakdowns, profiles and facts the figures hold.
A breakdown is read whole: every part is named, those of no known group included (a step the
plugin or the Dockerfile renamed shows as itself), and a whole that its parts do not cover gets
a part for the difference (`results.account`). No part is picked out by its label's wording.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.results import ONE_PLATFORM_PARTS
from benchmarks.results import OTHER_GROUP
from benchmarks.results import TWO_PLATFORM_BACKGROUND
from benchmarks.results import TWO_PLATFORM_PARTS
from benchmarks.results import account


if TYPE_CHECKING:
    from collections.abc import Sequence

    from benchmarks.results import Account
    from benchmarks.results import Check
    from benchmarks.results import Compared
    from benchmarks.results import Figure
    from benchmarks.results import ProfileRow
    from benchmarks.results import Sides


# What each group of parts is (results.Segment.group), in the analysis' words.
GROUPS = {
    "poetry": "Poetry itself (start-up, plan, exit)",
    "base": "reading the base image",
    "fetch": "fetching the locked files and installing them on the host",
    "layers": "writing layers (tar + gzip) and waiting for Poetry's",
    "upload": "the registry (uploads, manifest)",
    "docker": "the docker CLI",
    "engine": "build steps in the engine",
    "system": "the system packages (apt-get in the engine; the plugin's from Debian's archive)",
    "check": "checking that compiled files find their libraries",
    OTHER_GROUP: "parts of no known kind",
}
# Profile rows that only wrap others: left out of "where the time goes".
_WRAPPERS = ("poetry (whole command)", "plugin: resolve (settings to tag)")
SIGNIFICANT_SHARE = 0.08


def analyse(figures: Sequence[Figure]) -> None:
    """Fill `analysis` of the figures whose goals were missed."""
    explain = {
        1: _job_time,
        2: _command_time,
        4: _image_size,
        5: _load_overhead,
        6: _command_time,
        7: _job_time,
        8: _job_time,
        9: _second_platform,
        12: _pushes,
    }
    for figure in figures:
        missed = [check for check in figure.checks if not check.met]
        if missed and figure.number in explain:
            figure.analysis = explain[figure.number](figure, missed)


def accounted(figure: Figure, title: str) -> Account:
    """A breakdown of the figure, every part of it, covering its whole when one is given."""
    return account(figure.breakdowns.get(title, []), figure.totals.get(title))


def every_part(parts: Account, unit: str = "s") -> str:
    """Every part, largest first, with its share: `label 1.2 s (30 %)`; then the groups."""
    total = parts.total
    ordered = sorted(parts.parts, key=lambda part: part.value, reverse=True)
    listed = "; ".join(
        f"{part.label} {_amount(part.value, unit)} ({_share(part.value, total)})"
        for part in ordered
    )
    groups = "; ".join(
        f"{GROUPS.get(group, group or 'ungrouped')} {_amount(value, unit)}"
        for group, value in sorted(parts.groups().items(), key=lambda item: -item[1])
    )
    text = f"{listed} (sum {_amount(total, unit)}). By kind: {groups}."
    unnamed = [
        part for part in parts.parts if part.group == OTHER_GROUP or part.group not in GROUPS
    ]
    if unnamed:
        text += (
            " Of no known kind (a new or renamed step, or time no log line covers): "
            + "; ".join(f"{part.label} {_amount(part.value, unit)}" for part in unnamed)
            + "."
        )
    return text


def _amount(value: float, unit: str) -> str:
    if unit == "MB":
        return f"{value:.2f} MB" if value < 10 else f"{value:.0f} MB"
    return f"{value:.2f} s" if abs(value) < 10 else f"{value:.1f} s"


def _share(value: float, total: float) -> str:
    return f"{value / total * 100:.0f} %" if total else "-"


# --------------------------------------------------------------------------- figures 1, 7 and 8


def _job_time(figure: Figure, missed: Sequence[Check]) -> list[str]:
    """The plugin's push against the baseline's build and push, for each missed goal that sets
    them side by side: every part of both."""
    paragraphs: list[str] = []
    for check in missed:
        if check.sides is not None:
            paragraphs += _against_baseline(figure, check, check.sides)
    return paragraphs


def _against_baseline(figure: Figure, check: Check, sides: Sides) -> list[str]:
    plugin, recipe = sides.plugin.median, sides.baseline.median
    parts = accounted(figure, sides.plugin_parts)
    recipe_parts = accounted(figure, sides.baseline_parts)
    background = figure.breakdowns.get(sides.background, []) if sides.background else []
    target = recipe / check.target
    paragraphs = []
    if parts.parts:
        paragraphs.append(
            f"The plugin's push took {plugin:.2f} s (median). Its median run, part by part: "
            + every_part(parts)
        )
    if background:
        made = sum(part.value for part in background)
        paragraphs.append(
            "In parallel, on threads of their own: "
            + "; ".join(f"{part.label} {part.value:.2f} s" for part in background)
            + f" ({made:.2f} s in all). The main path waits for it only in the part that "
            "says so."
        )
    if recipe_parts.parts:
        paragraphs.append(
            f"The baseline's job took {recipe:.1f} s (median). Its median run: "
            + every_part(recipe_parts)
        )
    if parts.parts:
        over = [part for part in parts.parts if part.value >= target]
        paragraphs.append(
            f"{check.show_target().removeprefix('>= ')} faster than the baseline's "
            f"{recipe:.1f} s leaves {target:.2f} s for the whole push; it is "
            f"{plugin - target:.2f} s over. "
            + (
                "Parts that alone take that budget or more: "
                + "; ".join(f"{part.label} ({part.value:.2f} s)" for part in over)
                + "."
                if over
                else "No part alone takes the budget: the excess is spread over the parts above."
            )
        )
    return paragraphs


# --------------------------------------------------------------------------- figure 9


def _second_platform(figure: Figure, missed: Sequence[Check]) -> list[str]:
    one = accounted(figure, ONE_PLATFORM_PARTS)
    two = accounted(figure, TWO_PLATFORM_PARTS)
    paragraphs = []
    for check in missed:
        paragraphs.append(
            f"{check.goal}: {check.show(check.ratio.median)} (per-round ratios, interquartile "
            f"range {check.show(check.ratio.low)} to {check.show(check.ratio.high)})."
        )
    if one.parts and two.parts:
        paragraphs.append(
            f"With empty caches, the median two-platform run took {two.total:.2f} s against "
            f"{one.total:.2f} s; part by part, what the second platform adds: "
            + part_deltas(one, two)
            + "."
        )
        background = figure.breakdowns.get(TWO_PLATFORM_BACKGROUND, [])
        if background:
            paragraphs.append(
                "Poetry's layers (one per platform, made in parallel with the dependencies of "
                "the same platform; the platforms one after the other): "
                + "; ".join(f"{part.label} {part.value:.2f} s" for part in background)
                + "."
            )
    return paragraphs


def part_deltas(before: Account, after: Account) -> str:
    """Each part's change from `before` to `after` (a part only one has counts as 0 in the
    other), the largest change first: `label +1.20 s; other -0.10 s`."""
    was = {part.label: part.value for part in before.parts}
    now = {part.label: part.value for part in after.parts}
    labels = list(dict.fromkeys([*now, *was]))
    deltas = sorted(
        ((label, now.get(label, 0.0) - was.get(label, 0.0)) for label in labels),
        key=lambda item: -abs(item[1]),
    )
    return "; ".join(f"{label} {delta:+.2f} s" for label, delta in deltas)


# --------------------------------------------------------------------------- figure 12


def _pushes(figure: Figure, missed: Sequence[Check]) -> list[str]:
    """Each missed goal that sets the plugin's push against the baseline's job (`sides`) or
    against another push of the plugin (`compared`): every part of both."""
    paragraphs = _job_time(figure, missed)
    for check in missed:
        if check.compared is not None:
            paragraphs += _against_itself(figure, check, check.compared)
    return paragraphs


def _against_itself(figure: Figure, check: Check, compared: Compared) -> list[str]:
    first, second = (
        accounted(figure, compared.first_parts),
        accounted(figure, compared.second_parts),
    )
    paragraphs = [
        f"{check.goal}: {check.show(check.ratio.median)} (the median of the per-round "
        f"differences; interquartile range {check.show(check.ratio.low)} to "
        f"{check.show(check.ratio.high)})."
    ]
    if first.parts and second.parts:
        paragraphs.append(
            f"The median runs took {first.total:.2f} s and {second.total:.2f} s; part by part, "
            "what makes the difference: " + part_deltas(second, first) + ". The first, "
            "part by part: " + every_part(first)
        )
    background = figure.breakdowns.get(compared.background, []) if compared.background else []
    if background:
        paragraphs.append(
            "In parallel with its main path, on threads of their own (the main path waits for "
            "them only in the part that says so): "
            + "; ".join(f"{part.label} {part.value:.2f} s" for part in background)
            + "."
        )
    return paragraphs


# --------------------------------------------------------------------------- figures 2 and 6


def _command_time(figure: Figure, missed: Sequence[Check]) -> list[str]:
    version = figure.row("`poetry --version`").samples.median
    paragraphs: list[str] = []
    for check in missed:
        if "poetry --version" not in check.goal:
            continue
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
