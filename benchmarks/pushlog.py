"""`poetry -v image push`, timed by its log lines: the parts of a push, and what it sent.

The plugin's main thread goes through its steps in order and says so (status lines); the -v
detail lines say what each step does (each download, each layer, each blob). Poetry's own layer
is made in a background thread while the dependencies' layers are, so its lines interleave:

    Reading the base image X for linux/amd64           main: the base's manifest and config
    Reading the files of X (1 layers, once)            main: the base's files (once per base)
    Downloading Poetry 2.5.1 for ... (once, ...)       background: Poetry's wheels (pip)
    Fetching 58 locked distributions for ...           main: download, install on the host
    <name> <version>: <file>                           detail
    Writing 22 of 22 dependency layers (...)           main: tar + gzip
    Writing Poetry's layers (50 distributions)         background: tar + gzip
    layer own:numpy: 16.6 MB: numpy 2.4.6              detail, after every dependency layer
    layer Poetry (pure-Python): 9.3 MB                 background: done (then "compiled")
    Pushing X (sha256:...) / Sending 26 blobs to ...   main: the uploads
    Blobs: 25 uploaded (71.4 MB), 0 copied ...         main: then the manifest
    Pushed X in 8.9 s.                                 main: Poetry exits

The main path is split at every line that starts a step, so its parts sum to the whole run;
the background's parts are timed apart (they overlap the main path). A line this module does not
know starts a part of its own, named by its text: a renamed or new step shows up as itself,
never inside its neighbour.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.profiling import parts_between
from benchmarks.results import Segment


if TYPE_CHECKING:
    from benchmarks.profiling import Timeline


START = "Poetry start-up, plan, registry check"
WAIT = "wait for Poetry's layer (made in parallel)"
OTHER = "other"  # the group of lines this module does not know

# (start of a status line of the main thread, the part it starts, its group)
_STEPS = (
    ("Reading the base image ", "read the base image's manifest and config", "base"),
    ("Reading the files of ", "read the base image's files (once per base)", "base"),
    ("Fetching ", "fetch the locked files, install them on the host", "fetch"),
    ("Writing ", "write the dependency layers (tar + gzip)", "layers"),  # not Poetry's: below
    ("Pushing ", "upload the blobs", "upload"),
    ("Sending ", "upload the blobs", "upload"),
    ("Blobs: ", "put the manifest, check the tag", "upload"),
    ("Pushed ", "Poetry exits", "poetry"),
)
_GROUPS = {START: "poetry", WAIT: "layers"}
_BACKGROUND_DOWNLOAD = ("Downloading Poetry ", "download Poetry's wheels for the image (pip)")
_BACKGROUND_WRITE = ("Writing Poetry's layers", "write Poetry's layers (tar + gzip)")
_BACKGROUND_DONE = "layer Poetry "  # "layer Poetry (pure-Python): 9.3 MB", then "(compiled)"
_DEPENDENCY_LAYER = re.compile(r"^layer (own|pure|native):\S+: ")
_BLOB = re.compile(r"^(base layer \d+|layer|config \S+) sha256:[0-9a-f]+: ")
_FETCHED = re.compile(r"^\S+ \S+: (\S+\.(whl|tar\.gz|tar\.bz2|zip)|building a wheel from .*)$")
_REFERENCE = re.compile(r"^[\w.-]+(:\d+)?/\S+:[\w.-]+$")  # the result line, on stdout
_SUMMARY = re.compile(
    r"^Blobs: (?P<uploaded>\d+) uploaded \((?P<mb>[\d.]+) (?P<unit>MB|kB)\), "
    r"(?P<copied>\d+) copied from the base's registry, (?P<mounted>\d+) mounted, "
    r"(?P<present>\d+) already there$"
)
_NUMBERS = re.compile(r"\b(sha256:)?[0-9a-f]{12,}\b|\d+(\.\d+)?")


@dataclass(frozen=True)
class BlobSummary:
    """The push's summary line."""

    uploaded: int
    uploaded_mb: float  # as printed: MB (10^6 bytes), one decimal
    copied: int
    mounted: int
    present: int


@dataclass(frozen=True)
class PushLog:
    seconds: float
    parts: tuple[Segment, ...]  # the main path, in order: they sum to `seconds`
    background: tuple[Segment, ...]  # Poetry's layer, made while the main path runs
    summary: BlobSummary | None
    layers: tuple[str, ...]  # the -v lines of the dependency layers ("layer pure:3: ...")
    reference: str  # what the push printed on stdout: the image's reference


def read_push_log(timeline: Timeline) -> PushLog:
    marks: list[tuple[float, str, str]] = [(0.0, START, _GROUPS[START])]
    background: dict[str, float] = {}
    running: tuple[str, float] | None = None  # the background part under way, since when
    in_layer_lines = False
    summary = None
    reference = ""
    layers: list[str] = []
    for offset, raw in timeline.lines:
        line = raw.strip()
        if not line:
            continue
        if _DEPENDENCY_LAYER.match(line):
            layers.append(line)
            if not in_layer_lines:  # every dependency layer is written: Poetry's may not be
                marks.append((offset, WAIT, _GROUPS[WAIT]))
                in_layer_lines = True
            continue
        if line.startswith((_BACKGROUND_DOWNLOAD[0], _BACKGROUND_WRITE[0], _BACKGROUND_DONE)):
            if running is not None:
                label, since = running
                background[label] = background.get(label, 0.0) + offset - since
                running = None
            for start, label in (_BACKGROUND_DOWNLOAD, _BACKGROUND_WRITE):
                if line.startswith(start):
                    running = (label, offset)
            continue
        if _REFERENCE.match(line):
            reference = line
            continue
        if _BLOB.match(line) or _FETCHED.match(line):
            continue
        found = _SUMMARY.match(line)
        if found:
            summary = BlobSummary(
                uploaded=int(found["uploaded"]),
                uploaded_mb=float(found["mb"]) / (1000 if found["unit"] == "kB" else 1),
                copied=int(found["copied"]),
                mounted=int(found["mounted"]),
                present=int(found["present"]),
            )
        in_layer_lines = False
        marks.append((offset, *_step(line)))
    if running is not None:
        label, since = running
        background[label] = background.get(label, 0.0) + timeline.seconds - since
    return PushLog(
        seconds=timeline.seconds,
        parts=tuple(parts_between(marks, timeline.seconds)),
        background=tuple(
            Segment(label, value, group="poetry") for label, value in background.items()
        ),
        summary=summary,
        layers=tuple(layers),
        reference=reference,
    )


def _step(line: str) -> tuple[str, str]:
    """The part a main-thread line starts: a known step, or the line itself (normalised)."""
    for start, label, group in _STEPS:
        if line.startswith(start):
            return label, group
    text = _NUMBERS.sub("N", " ".join(line.split()))
    return f"unrecognised line: {text if len(text) <= 60 else text[:57] + '...'}", OTHER
