"""Which package goes into which layer, and who wins a file two packages install."""

from __future__ import annotations

import pytest

from poetry_ci_image.image.files import PackageFiles
from poetry_ci_image.image.layers import LARGE_BYTES
from poetry_ci_image.image.layers import Weighed
from poetry_ci_image.image.layers import assign_layers
from poetry_ci_image.image.layers import describe_overlap
from poetry_ci_image.image.layers import resolve_overlaps
from poetry_ci_image.image.layers import shared_layers
from poetry_ci_image.image.tarball import file_entry


MB = 1024 * 1024
SMALL = [Weighed(f"small-{i}", 100_000 + i, native=False) for i in range(30)]
LARGE = [
    Weighed("numpy", 40 * MB, native=True),
    Weighed("pandas", 70 * MB, native=True),
    Weighed("sqlalchemy", 12 * MB, native=True),
]
NATIVE_SMALL = [Weighed("markupsafe", 60_000, native=True), Weighed("pyyaml", 900_000, native=True)]
PACKAGES = SMALL + LARGE + NATIVE_SMALL


def layer_of(groups: list[tuple[str, tuple[str, ...]]], name: str) -> tuple[str, tuple[str, ...]]:
    return next(group for group in groups if name in group[1])


def plain(packages: list[Weighed], budget: int = 24) -> list[tuple[str, tuple[str, ...]]]:
    return [(group.key, group.packages) for group in assign_layers(packages, budget)]


def test_large_packages_get_a_layer_of_their_own() -> None:
    """numpy, pandas, sqlalchemy: one layer each, named for them; no small package with them."""
    groups = plain(PACKAGES)
    for name in ("numpy", "pandas", "sqlalchemy"):
        assert layer_of(groups, name) == (f"own:{name}", (name,))


def test_small_packages_share_layers_pure_and_native_apart() -> None:
    """Small packages share layers; compiled ones never share with pure ones."""
    groups = plain(PACKAGES)
    pure, native = shared_layers(24)
    assert (pure, native) == (9, 3)
    assert all(layer_of(groups, p.name)[0].startswith("pure:") for p in SMALL)
    assert layer_of(groups, "markupsafe")[0].startswith("native:")
    assert len(groups) <= 24


def test_the_budget_bounds_the_layer_count() -> None:
    """However many packages, the dependencies take at most `layers` layers."""
    many = [Weighed(f"big-{i}", (10 + i) * MB, native=False) for i in range(50)] + SMALL
    for budget in (1, 2, 5, 24, 100):
        assert len(assign_layers(many, budget)) <= budget


@pytest.mark.parametrize(
    ("bumped", "size"),
    [
        pytest.param("small-7", 120_000, id="a small package's bump"),
        pytest.param("numpy", 41 * MB, id="a large package's bump"),
        pytest.param("markupsafe", 61_000, id="a compiled small package's bump"),
    ],
)
def test_a_bump_moves_one_layer(bumped: str, size: int) -> None:
    """A new version (another size, same name) changes the layer that holds it, and no other."""
    after = [Weighed(p.name, size, p.native) if p.name == bumped else p for p in PACKAGES]
    before_groups, after_groups = plain(PACKAGES), plain(after)
    assert before_groups == after_groups  # membership is by name: nothing moved
    changed = {key for key, names in before_groups if bumped in names}
    assert len(changed) == 1


def test_a_new_package_joins_one_layer() -> None:
    """A dependency added: every other package stays where it was."""
    before = plain(PACKAGES)
    after = plain([*PACKAGES, Weighed("newcomer", 50_000, native=False)])
    moved = [name for key, names in before for name in names if layer_of(after, name)[0] != key]
    assert moved == []


def test_crossing_the_size_threshold_moves_a_package_between_two_layers() -> None:
    """The one case that touches two layers: a package that grows past LARGE_BYTES."""
    grown = [Weighed(p.name, LARGE_BYTES, p.native) if p.name == "small-3" else p for p in PACKAGES]
    assert layer_of(plain(PACKAGES), "small-3")[0].startswith("pure:")
    assert layer_of(plain(grown), "small-3") == ("own:small-3", ("small-3",))


SITE = "opt/venv/lib/python3.11/site-packages"


def package(name: str, files: dict[str, bytes]) -> PackageFiles:
    return PackageFiles(name, tuple(file_entry(f"{SITE}/{p}", data) for p, data in files.items()))


def test_identical_bytes_are_no_conflict_and_land_once() -> None:
    """cssbeautifier ships jsbeautifier's files byte for byte: one copy lands, quietly."""
    shared = {"jsbeautifier/__init__.py": b"js", "jsbeautifier/core.py": b"c"}
    js = package("jsbeautifier", shared)
    css = package("cssbeautifier", {"cssbeautifier/__init__.py": b"css", **shared})
    lost, overlaps = resolve_overlaps([js, css])
    assert lost == {"cssbeautifier": frozenset(f"{SITE}/{path}" for path in shared)}
    assert [(o.loser, o.winner, o.identical) for o in overlaps] == [
        ("cssbeautifier", "jsbeautifier", True)
    ]


def test_different_bytes_are_reported_and_the_later_name_wins() -> None:
    """Two namespace packages with different `__init__.py`: the later name's copy, and a warning."""
    first = package("zope-a", {"zope/__init__.py": b"old style", "zope/a.py": b"a"})
    second = package("zope-b", {"zope/__init__.py": b"new style", "zope/b.py": b"b"})
    lost, overlaps = resolve_overlaps([second, first])
    assert lost == {"zope-a": frozenset({f"{SITE}/zope/__init__.py"})}
    (overlap,) = overlaps
    assert overlap.different == (f"{SITE}/zope/__init__.py",)
    assert describe_overlap(overlap, SITE) == (
        "zope-a and zope-b both install zope/__init__.py, with different content: the image "
        "holds zope-b's, as `poetry install` does when it installs zope-b last."
    )
