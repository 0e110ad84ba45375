"""The order tests run in, other than the files': shuffled by a seed, or reversed.

What shares a fixture scope stays together: a module's tests run one after another, and a class's
within its module, so each module- or class-scoped fixture is still made once. What moves is the
order of the modules, of the classes and tests within each module, and of the tests within each
class (tests/conftest.py's `--shuffle SEED` and `--reverse`).
"""

from __future__ import annotations

import random

from typing import TYPE_CHECKING
from typing import Protocol
from typing import TypeVar


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Hashable
    from collections.abc import Sequence


Item = TypeVar("Item")
Unit = TypeVar("Unit")


class Arrange(Protocol):
    """Orders the units of one level (groups and lone items), given in the files' order."""

    def __call__(self, units: list[Unit], /) -> list[Unit]: ...


def shuffled(seed: int) -> Arrange:
    """Each level shuffled by one generator of `seed`: the same seed, the same order."""
    generator = random.Random(seed)

    def shuffle(units: list[Unit]) -> list[Unit]:
        return generator.sample(units, len(units))

    return shuffle


def reversed_order(units: list[Unit]) -> list[Unit]:
    """Each level backwards: the last module first, and its last test first."""
    return units[::-1]


def arranged(
    items: Sequence[Item], groups: Callable[[Item], Sequence[Hashable]], arrange: Arrange
) -> list[Item]:
    """`items` in the order `arrange` gives at every level: `groups(item)` is the item's chain of
    groups, outermost first (its module, then its class, if any); items that share a group stay
    next to each other."""
    return _arranged(list(items), groups, arrange, depth=0)


def _arranged(
    items: list[Item],
    groups: Callable[[Item], Sequence[Hashable]],
    arrange: Arrange,
    depth: int,
) -> list[Item]:
    """`items`, which share their first `depth` groups, arranged."""
    members: dict[tuple[str, Hashable], list[Item]] = {}
    for position, item in enumerate(items):
        chain = groups(item)
        key = ("group", chain[depth]) if depth < len(chain) else ("item", position)
        members.setdefault(key, []).append(item)
    ordered = []
    for kind, name in arrange(list(members)):
        inner = members[kind, name]
        ordered += _arranged(inner, groups, arrange, depth + 1) if kind == "group" else inner
    return ordered
