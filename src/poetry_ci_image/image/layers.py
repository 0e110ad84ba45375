"""Which package's files go into which layer, and which copy of a file two packages share wins.

The rule is stable under single-package changes, so a Renovate-style bump moves one layer:

- the packages get layers of their own, the largest first, while the budget lasts (`layers`
  minus a quarter kept for shared layers): on most projects, every package has its own layer,
  and a bump uploads and pulls exactly that package's bytes;
- the smallest packages beyond that go to one of the shared layers, chosen by a hash of their
  *name*, so a version never moves them; pure-Python packages and packages with compiled code
  use separate shared layers, so that an image for another platform shares the pure ones.

A bump changes the layer that holds the package, and no other, unless its new size moves it
across the cut between own and shared layers (then it and the package it swaps places with
move: up to four layers, all of them among the smallest).

Two packages may install the same path (cssbeautifier ships a copy of jsbeautifier's files;
old-style namespace packages share `__init__.py`). For a lock of format 2.1, Poetry 2.5 installs
every package in one parallel group, so which copy `poetry install` leaves is a race. Here it is
fixed, for a coherent venv: the package that owns the import name the path lies under (its own
name, or one its top_level.txt lists) keeps it, so jsbeautifier/ stays jsbeautifier's, whole and
matching its dist-info; when both or neither own it, the name that sorts later wins. The file
lands in the winner's layer only. Identical bytes are no conflict; different bytes are reported,
naming both packages.
"""

from __future__ import annotations

import hashlib

from dataclasses import dataclass
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Sequence

    from poetry_ci_image.image.files import PackageFiles


@dataclass(frozen=True)
class Weighed:
    """A package, as the layer rule sees it."""

    name: str
    size: int  # bytes of its installed files
    native: bool  # it has compiled code (its wheel is not py*-none-any)


@dataclass(frozen=True)
class LayerGroup:
    """The packages of one layer, and what its history entry says of it."""

    key: str  # "own:numpy", "pure:3", "native:0": stable names, for the history and the cache
    packages: tuple[str, ...]


def shared_layers(budget: int) -> tuple[int, int]:
    """How many shared layers pure and native packages get, out of `budget` dependency layers."""
    shared = max(1, budget // 4)
    native = max(1, shared // 4) if shared > 1 else 0
    return shared - native, native


def assign_layers(packages: Sequence[Weighed], budget: int) -> list[LayerGroup]:
    """The layers of the dependencies: own layers first (by name), then shared (by number)."""
    pure_count, native_count = shared_layers(budget)
    own_slots = budget - pure_count - native_count
    large = sorted(packages, key=lambda p: (-p.size, p.name))[:own_slots]
    own = {p.name for p in large}
    groups = [LayerGroup(f"own:{name}", (name,)) for name in sorted(own)]
    shared: dict[str, list[str]] = {}
    for package in sorted(packages, key=lambda p: p.name):
        if package.name in own:
            continue
        if package.native and native_count:
            key = f"native:{_bucket(package.name, native_count)}"
        else:
            key = f"pure:{_bucket(package.name, pure_count)}"
        shared.setdefault(key, []).append(package.name)
    for key in sorted(shared, key=lambda k: (k.split(":")[0], int(k.split(":")[1]))):
        groups.append(LayerGroup(key, tuple(shared[key])))
    return groups


def _bucket(name: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % count


@dataclass(frozen=True)
class Overlap:
    """Paths two packages both install; `winner` keeps its copy (`owned`: because the path lies
    under an import name the winner owns, else by the order of the names)."""

    loser: str
    winner: str
    paths: tuple[str, ...]
    different: tuple[str, ...]  # those of `paths` whose bytes differ
    owned: bool = False

    @property
    def identical(self) -> bool:
        return not self.different


def resolve_overlaps(
    packages: Sequence[PackageFiles],
) -> tuple[dict[str, frozenset[str]], list[Overlap]]:
    """For each package, the paths it gives up to another; and what overlapped.

    A path two packages install goes to the one that owns the import name it lies under (the
    name is the distribution's own, or listed in its top_level.txt), so a package's modules stay
    whole; when both or neither own it, to the one whose name sorts later. Directories never
    overlap (each layer lists the ones it needs)."""
    installers: dict[str, list[tuple[str, str]]] = {}  # path -> [(package, identity)] by name
    owners = {package.name: _owned(package) for package in packages}
    for package in sorted(packages, key=lambda p: p.name):
        for entry in package.entries:
            if entry.kind != "dir":
                identity = f"{entry.kind}:{entry.digest or entry.target}"
                installers.setdefault(entry.path, []).append((package.name, identity))
    lost: dict[str, set[str]] = {}
    pairs: dict[tuple[str, str, bool], list[tuple[str, bool]]] = {}
    for path, found in installers.items():
        if len(found) < 2:
            continue
        name = _import_name(path)
        owning = [item for item in found if name in owners[item[0]]]
        winner, kept = (owning or found)[-1]
        for loser, identity in found:
            if loser == winner:
                continue
            lost.setdefault(loser, set()).add(path)
            pairs.setdefault((loser, winner, bool(owning)), []).append((path, identity == kept))
    overlaps = [
        Overlap(
            loser=loser,
            winner=winner,
            paths=tuple(sorted(path for path, _ in found)),
            different=tuple(sorted(path for path, same in found if not same)),
            owned=owned,
        )
        for (loser, winner, owned), found in sorted(pairs.items())
    ]
    return {name: frozenset(paths) for name, paths in lost.items()}, overlaps


def _owned(package: PackageFiles) -> frozenset[str]:
    """The import names `package` owns: its own name, and those its top_level.txt lists."""
    return frozenset({_normal(package.name), *(_normal(name) for name in package.top_level)})


def _import_name(path: str) -> str:
    """The top-level import name a path of site-packages lies under ("" elsewhere)."""
    _, marker, rest = path.partition("/site-packages/")
    if not marker:
        return ""
    first = rest.split("/", 1)[0]
    return _normal(first.removesuffix(".py"))


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def describe_overlap(overlap: Overlap, site_packages: str) -> str:
    """A warning for an overlap with different bytes: which packages, which files, who wins.
    Pycs are not counted: they follow their sources."""
    different = [path for path in overlap.different if "/__pycache__/" not in path]
    different = different or list(overlap.different)
    shown = different[0].removeprefix(site_packages.strip("/") + "/")
    more = f" and {len(different) - 1} more" if len(different) > 1 else ""
    if overlap.owned:
        top = shown.split("/", 1)[0]
        why = f"{top} is {overlap.winner}'s own import name"
    else:
        why = "neither owns the import name, and the later name wins"
    return (
        f"{overlap.loser} and {overlap.winner} both install {shown}{more}, with different "
        f"content: the image holds {overlap.winner}'s ({why}; `poetry install` installs them "
        "at once, so which copy it leaves varies)."
    )
