"""Which package goes into which layer, and who wins a file two packages install."""

from __future__ import annotations

import pytest

from poetry_ci_image.image.dependency_layers import group_key
from poetry_ci_image.image.dependency_layers import own_layer_key
from poetry_ci_image.image.files import PackageFiles
from poetry_ci_image.image.layers import LayerGroup
from poetry_ci_image.image.layers import Weighed
from poetry_ci_image.image.layers import assign_layers
from poetry_ci_image.image.layers import describe_overlap
from poetry_ci_image.image.layers import resolve_overlaps
from poetry_ci_image.image.layers import shared_layers
from poetry_ci_image.image.tarball import file_entry


MB = 1024 * 1024
SMALL = [Weighed(f"small-{i:02}", 100_000 + 1_000 * i, native=False) for i in range(30)]
LARGE = [
    Weighed("numpy", 40 * MB, native=True),
    Weighed("pandas", 70 * MB, native=True),
    Weighed("sqlalchemy", 12 * MB, native=True),
]
NATIVE_SMALL = [Weighed("markupsafe", 60_000, native=True), Weighed("pyyaml", 900_000, native=True)]
PACKAGES = SMALL + LARGE + NATIVE_SMALL  # 35 packages


def layer_of(groups: list[tuple[str, tuple[str, ...]]], name: str) -> tuple[str, tuple[str, ...]]:
    return next(group for group in groups if name in group[1])


def plain(packages: list[Weighed], budget: int = 24) -> list[tuple[str, tuple[str, ...]]]:
    return [(group.key, group.packages) for group in assign_layers(packages, budget)]


def changed(
    before: list[tuple[str, tuple[str, ...]]], after: list[tuple[str, tuple[str, ...]]]
) -> int:
    """How many layers differ: by key and members (a member's new version is a new layer)."""
    return len(set(before) ^ set(after)) // 2


def test_every_package_has_its_own_layer_when_the_budget_allows() -> None:
    """35 packages, 64 layers: one layer per package, named for it."""
    groups = plain(PACKAGES, 64)
    assert sorted(key for key, _ in groups) == sorted(f"own:{p.name}" for p in PACKAGES)


def test_the_largest_packages_get_their_own_layers_first() -> None:
    """24 layers: the 18 largest have their own, the smallest share the 6 others."""
    groups = plain(PACKAGES, 24)
    assert shared_layers(24) == (5, 1)
    own = sorted(name for key, (name, *_) in groups if key.startswith("own:"))
    ranked = sorted(PACKAGES, key=lambda p: -p.size)
    assert own == sorted(p.name for p in ranked[:18])
    for name in ("numpy", "pandas", "sqlalchemy", "pyyaml"):
        assert layer_of(groups, name) == (f"own:{name}", (name,))
    assert len(groups) <= 24


def test_small_packages_share_layers_pure_and_native_apart() -> None:
    """The smallest share layers; compiled ones never share with pure ones."""
    groups = plain(PACKAGES, 24)
    assert layer_of(groups, "markupsafe")[0].startswith("native:")
    assert layer_of(groups, "small-00")[0].startswith("pure:")


def test_the_budget_bounds_the_layer_count() -> None:
    """However many packages, the dependencies take at most `layers` layers."""
    many = [Weighed(f"big-{i}", (10 + i) * MB, native=False) for i in range(50)] + SMALL
    for budget in (1, 2, 5, 24, 64, 100):
        assert len(assign_layers(many, budget)) <= budget


@pytest.mark.parametrize(
    ("bumped", "size"),
    [
        pytest.param("small-25", 125_500, id="a package with its own layer"),
        pytest.param("small-03", 103_500, id="a package in a shared layer"),
        pytest.param("numpy", 41 * MB, id="a large package"),
        pytest.param("markupsafe", 61_000, id="a compiled small package"),
    ],
)
def test_a_bump_moves_one_layer(bumped: str, size: int) -> None:
    """A new version that stays on its side of the cut: the layers' members do not move."""
    after = [Weighed(p.name, size, p.native) if p.name == bumped else p for p in PACKAGES]
    assert plain(PACKAGES) == plain(after)  # membership is by name: nothing moved
    assert len([group for group in plain(PACKAGES) if bumped in group[1]]) == 1


def test_a_new_small_package_joins_one_layer() -> None:
    """A small dependency added: every other package stays where it was."""
    before = plain(PACKAGES)
    after = plain([*PACKAGES, Weighed("newcomer", 50_000, native=False)])
    moved = [name for key, names in before for name in names if layer_of(after, name)[0] != key]
    assert moved == []


def test_crossing_the_cut_moves_two_packages() -> None:
    """The rare case: a shared package grows past the smallest own one; they swap places."""
    grown = [Weighed(p.name, 200_000, p.native) if p.name == "small-03" else p for p in PACKAGES]
    before, after = plain(PACKAGES), plain(grown)
    assert layer_of(before, "small-03")[0].startswith("pure:")
    assert layer_of(after, "small-03") == ("own:small-03", ("small-03",))
    assert changed(before, after) <= 4


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
    """Two namespace packages with different `__init__.py`, neither owning `zope`: the later
    name's copy, and a warning that says why."""
    first = package("zope-a", {"zope/__init__.py": b"old style", "zope/a.py": b"a"})
    second = package("zope-b", {"zope/__init__.py": b"new style", "zope/b.py": b"b"})
    lost, overlaps = resolve_overlaps([second, first])
    assert lost == {"zope-a": frozenset({f"{SITE}/zope/__init__.py"})}
    (overlap,) = overlaps
    assert overlap.different == (f"{SITE}/zope/__init__.py",)
    assert describe_overlap(overlap, SITE) == (
        "zope-a and zope-b both install zope/__init__.py, with different content: the image "
        "holds zope-b's (neither owns the import name, and the later name wins; `poetry "
        "install` installs them at once, so which copy it leaves varies)."
    )


@pytest.mark.parametrize(
    ("owner", "vendor", "vendor_top_level"),
    [
        pytest.param("aardvark", "zz-bundle", (), id="the owner sorts first"),
        pytest.param("zzlib", "aardvark-tools", (), id="the owner sorts last"),
        pytest.param("pyyaml", "zz-bundle", (), id="top_level.txt of the owner names it"),
        pytest.param("aardvark", "zz-bundle", ("zz_bundle",), id="the vendor lists its own only"),
    ],
)
def test_the_package_that_owns_the_import_name_keeps_its_files(
    owner: str, vendor: str, vendor_top_level: tuple[str, ...]
) -> None:
    """A bundled older copy of another package's modules (and their pycs) never wins over the
    package whose import name they lie under, whatever the names' order."""
    name = "yaml" if owner == "pyyaml" else owner.replace("-", "_")
    own = {f"{name}/__init__.py": b"new", f"{name}/__pycache__/__init__.cpython-311.pyc": b"N"}
    bundled = {f"{name}/__init__.py": b"old", f"{name}/__pycache__/__init__.cpython-311.pyc": b"O"}
    top_level = frozenset({"yaml", "_yaml"}) if owner == "pyyaml" else frozenset()
    owning = PackageFiles(owner, package(owner, own).entries, top_level)
    vendoring = PackageFiles(vendor, package(vendor, bundled).entries, frozenset(vendor_top_level))
    lost, overlaps = resolve_overlaps([vendoring, owning])
    assert lost == {vendor: frozenset(f"{SITE}/{path}" for path in bundled)}
    (overlap,) = overlaps
    assert (overlap.winner, overlap.owned) == (owner, True)
    assert describe_overlap(overlap, SITE) == (
        f"{vendor} and {owner} both install {name}/__init__.py, with different content: "
        f"the image holds {owner}'s ({name} is {owner}'s own import name; `poetry install` "
        "installs them at once, so which copy it leaves varies)."
    )


def test_a_packages_own_layer_is_the_layer_of_its_one_package_group() -> None:
    """The layer staging writes early for a package (`own_layer_key`) is the one its group finds
    in the cache, unless the package gives up a path to another (then the group's is new)."""
    keys = {"numpy": "wheel-key-of-numpy"}
    group = LayerGroup("own:numpy", ("numpy",))
    own = own_layer_key(0, keys["numpy"])
    assert group_key(0, group, keys, {}) == own
    assert group_key(0, group, keys, {"numpy": frozenset({"opt/venv/x.py"})}) != own
    assert group_key(1, group, keys, {}) != own
