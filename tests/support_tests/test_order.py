"""Self-tests of ``tests.support.order``: the suite in another order, its scopes kept together."""

from __future__ import annotations

import itertools

from tests.support.order import arranged
from tests.support.order import reversed_order
from tests.support.order import shuffled


# Test ids as pytest writes them: module, class (if any), test.
ITEMS = [
    "a.py::one",
    "a.py::two",
    "a.py::Case::three",
    "a.py::Case::four",
    "a.py::five",
    "b.py::one",
    "c.py::one",
    "c.py::two",
    "c.py::Case::three",
    "c.py::Other::four",
    "c.py::Other::five",
    "d.py::one",
]


def scopes(item: str) -> list[str]:
    """The module and class of `item`, each named by its id."""
    parts = item.split("::")
    return ["::".join(parts[: depth + 1]) for depth in range(len(parts) - 1)]


def stretches(order: list[str]) -> list[str]:
    """Each module and class, once per stretch of its tests in `order` (so named twice if its
    tests were split), and each test outside a class."""
    return [
        scope
        for depth in (0, 1)
        for scope, _ in itertools.groupby(
            scopes(item)[depth] if len(scopes(item)) > depth else item for item in order
        )
    ]


def test_a_shuffle_keeps_each_modules_and_each_classs_tests_together() -> None:
    """Whatever the seed, each module's tests, and each class's, run in one stretch."""
    for seed in range(50):
        order = arranged(ITEMS, scopes, shuffled(seed))
        assert sorted(order) == sorted(ITEMS)
        assert len(stretches(order)) == len(set(stretches(order))), (seed, order)


def test_a_seed_gives_its_order_again_and_moves_modules_and_tests() -> None:
    """The same seed, the same order; seeds give orders other than the files' at each level."""
    orders = {tuple(arranged(ITEMS, scopes, shuffled(seed))) for seed in range(20)}
    assert arranged(ITEMS, scopes, shuffled(7)) == arranged(ITEMS, scopes, shuffled(7))
    assert len(orders) > 15
    assert {order[0].split("::")[0] for order in orders} == {"a.py", "b.py", "c.py", "d.py"}
    within_a = {tuple(item for item in order if item.startswith("a.py::")) for order in orders}
    assert len(within_a) > 5


def test_reversed_is_the_files_order_backwards_at_each_level() -> None:
    """The last module first; within it, the last test or class first; within a class, its last
    test first."""
    assert arranged(ITEMS, scopes, reversed_order) == [
        "d.py::one",
        "c.py::Other::five",
        "c.py::Other::four",
        "c.py::Case::three",
        "c.py::two",
        "c.py::one",
        "b.py::one",
        "a.py::five",
        "a.py::Case::four",
        "a.py::Case::three",
        "a.py::two",
        "a.py::one",
    ]
