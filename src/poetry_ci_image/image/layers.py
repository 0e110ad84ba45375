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

Two packages may install the same path (cssbeautifier ships jsbeautifier's files; old-style
namespace packages share `__init__.py`). `poetry install` installs one after the other, and the
later one's copy stays; packages at the same depth it installs in parallel, so which one is not
fixed. Here it is: the package whose name sorts later wins, and the file lands in that package's
layer only. Identical bytes are no conflict; different bytes are reported, naming both packages.
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
    """Paths two packages both install; `winner` keeps its copy."""

    loser: str
    winner: str
    paths: tuple[str, ...]
    different: tuple[str, ...]  # those of `paths` whose bytes differ

    @property
    def identical(self) -> bool:
        return not self.different


def resolve_overlaps(
    packages: Sequence[PackageFiles],
) -> tuple[dict[str, frozenset[str]], list[Overlap]]:
    """For each package, the paths it loses to a package whose name sorts later; and what
    overlapped. Directories never overlap (each layer lists the ones it needs)."""
    owner: dict[str, tuple[str, str]] = {}  # path -> (package, digest) of the current winner
    lost: dict[str, set[str]] = {}
    pairs: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    for package in sorted(packages, key=lambda p: p.name):
        for entry in package.entries:
            if entry.kind == "dir":
                continue
            previous = owner.get(entry.path)
            if previous is not None:
                loser, digest = previous
                lost.setdefault(loser, set()).add(entry.path)
                same = digest == _identity(entry.kind, entry.digest, entry.target)
                pairs.setdefault((loser, package.name), []).append((entry.path, same))
            owner[entry.path] = (package.name, _identity(entry.kind, entry.digest, entry.target))
    overlaps = [
        Overlap(
            loser=loser,
            winner=winner,
            paths=tuple(sorted(path for path, _ in found)),
            different=tuple(sorted(path for path, same in found if not same)),
        )
        for (loser, winner), found in sorted(pairs.items())
    ]
    return {name: frozenset(paths) for name, paths in lost.items()}, overlaps


def _identity(kind: str, digest: str, target: str) -> str:
    return f"{kind}:{digest or target}"


def describe_overlap(overlap: Overlap, site_packages: str) -> str:
    """A warning for an overlap with different bytes: which packages, which files, who wins."""
    different = list(overlap.different)
    shown = different[0].removeprefix(site_packages.strip("/") + "/")
    more = f" and {len(different) - 1} more" if len(different) > 1 else ""
    return (
        f"{overlap.loser} and {overlap.winner} both install {shown}{more}, with different "
        f"content: the image holds {overlap.winner}'s, as `poetry install` does when it installs "
        f"{overlap.winner} last."
    )
