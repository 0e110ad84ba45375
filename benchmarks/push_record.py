"""`poetry image push --json`: the parts of a push and what it sent, as the plugin reports them.

The plugin times its own steps (`steps`, each with its start and seconds since the run began)
and says how long its run took (`elapsed`); the benchmark times the whole command. So:

    Poetry start-up and exit   the command's seconds minus the plugin's run (`elapsed`)
    <each main-path step>      resolve the lock, ask the registry, read the base, fetch, install,
                               write the layers, wait for Poetry's, send the blobs and manifest
    between the steps          what the plugin's run spent outside any step

sum to the command's seconds. Poetry's own layers, the standard library's bytecode and the
system packages' layers are made on threads of their own while the main path runs: their steps
are timed apart (the main path's wait for them is one of its steps). A step this module does not
know is a part of its own, under its own name, in the group "other": a renamed or new step
shows up as itself, never inside its neighbour.

This is the benchmarks' one reader of `push --json`: the parts, whether it pushed (`pushed`),
what was sent (`blobs`), and the first platform's layers (what each holds: history.py).
"""

from __future__ import annotations

import json

from dataclasses import dataclass
from typing import Any

from benchmarks.history import Layer
from benchmarks.results import OTHER_GROUP
from benchmarks.results import Segment


START_AND_EXIT = "Poetry start-up and exit"
BETWEEN = "the plugin, between its steps"
# The plugin's step -> (the benchmark's name for it, its group: see analysis.py)
_STEPS = {
    "resolve the lock to its tag": ("plan: resolve the lock to its tag", "poetry"),
    "ask the registry for the tag": ("ask the registry for the tag", "upload"),
    "read the base image's manifest and config": (
        "read the base image's manifest and config",
        "base",
    ),
    "read the base image's files": ("read the base image's files (once per base)", "base"),
    "fetch and install the locked files": (
        "fetch the locked files, install and compile them on the host",
        "fetch",
    ),
    "write the dependency layers": ("write the dependency layers (tar + gzip)", "layers"),
    "wait for Poetry's layers": ("wait for Poetry's layers (made in parallel)", "layers"),
    "send the blobs and the manifest": ("send the blobs and the manifest", "upload"),
    "fetch Poetry's wheels for the image": ("fetch Poetry's wheels for the image (pip)", "poetry"),
    "write Poetry's layers": ("write Poetry's layers (compile, tar + gzip)", "poetry"),
    "compile the standard library": ("compile the standard library (once per base)", "poetry"),
    "read the registry's layer cache": ("read the registry's layer cache", "upload"),
    "check that compiled files find their libraries": (
        "check that compiled files find their libraries",
        "check",
    ),
    "attach the SBOMs": ("attach the SBOMs", "upload"),
    "put the tags": ("put the tags", "upload"),
    "update the registry's layer cache": ("update the registry's layer cache", "upload"),
    "fetch and read the system packages": (
        "fetch the system packages' .debs, check and read them",
        "system",
    ),
    "write the system packages' layers": (
        "write the system packages' layers (tar + gzip)",
        "system",
    ),
    "wait for the system packages' layers": (
        "wait for the system packages' layers (made in parallel)",
        "system",
    ),
}
# Steps the plugin runs on a thread of their own while the main path runs, but reports on the
# main track (its timeline's default): the system packages' part (image/layer_writer.py submits
# it to its background pool). Read as the parallel work they are, so the main path's parts
# still sum to the command's seconds.
_OFF_THE_MAIN_PATH = frozenset(
    {"fetch and read the system packages", "write the system packages' layers"}
)


@dataclass(frozen=True)
class BlobSummary:
    uploaded: int
    uploaded_mb: float
    copied: int
    mounted: int
    present: int


@dataclass(frozen=True)
class PushLog:
    seconds: float  # the whole command, as the benchmark timed it
    parts: tuple[Segment, ...]  # the main path, in order: they sum to `seconds`
    background: tuple[Segment, ...]  # what is made in parallel: Poetry's, the system layers
    summary: BlobSummary | None  # None when nothing was pushed
    reference: str
    pushed: bool  # False: the registry had the tag, so nothing was built or sent
    layers: tuple[Layer, ...]  # the plugin's layers, the first platform's; none when not pushed
    base_layers: tuple[str, ...]  # the digests of the base's layers below them


def read_push_record(stdout: str, seconds: float) -> PushLog:
    """The parts of a push from its `--json` report and the command's own seconds."""
    report = json.loads(stdout)
    steps = report["steps"]
    main = [step for step in steps if _on_the_main_path(step)]
    totals: dict[str, Segment] = {}

    def add(label: str, value: float, group: str) -> None:
        known = totals.get(label)
        totals[label] = Segment(label, value + (known.value if known else 0.0), group=group)

    add(START_AND_EXIT, max(0.0, seconds - report["elapsed"]), "poetry")
    covered = 0.0
    for step in main:
        label, group = _named(step["name"])
        add(label, step["seconds"], group)
        covered += step["seconds"]
    add(BETWEEN, max(0.0, report["elapsed"] - covered), "poetry")
    background = [_part(step) for step in steps if not _on_the_main_path(step)]
    blobs = report["blobs"]
    summary = (
        BlobSummary(
            uploaded=blobs["uploaded"],
            uploaded_mb=blobs["uploaded_bytes"] / 1e6,
            copied=blobs["copied"],
            mounted=blobs["mounted"],
            present=blobs["present"],
        )
        if blobs
        else None
    )
    platform = report["platforms"][0] if report["platforms"] else {}
    return PushLog(
        seconds=seconds,
        parts=tuple(totals.values()),
        background=tuple(background),
        summary=summary,
        reference=report["reference"],
        pushed=report["pushed"],
        layers=tuple(
            Layer(layer["digest"], layer["size"], layer["comment"])
            for layer in platform.get("layers", ())
        ),
        base_layers=tuple(layer["digest"] for layer in platform.get("base_layers", ())),
    )


def _part(step: dict[str, Any]) -> Segment:
    label, group = _named(step["name"])
    return Segment(label, step["seconds"], group=group)


def _on_the_main_path(step: dict[str, Any]) -> bool:
    return step["track"] == "main" and step["name"] not in _OFF_THE_MAIN_PATH


def _named(step: str) -> tuple[str, str]:
    """The benchmark's name for a step of the plugin, and its group."""
    return _STEPS.get(step, (step, OTHER_GROUP))
