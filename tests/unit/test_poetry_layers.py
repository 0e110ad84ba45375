"""Poetry's layers, found or written: with pins, by a key known before any download; without,
by the wheels' digests.

What these pin: the pinned key follows the pinned set and the target, not the host; a warm cache
gives Poetry's layers without fetching a wheel; a changed set is a miss; the pure-Python layer is
still one blob for two platforms; without pins the wheels are fetched and their digests find the
layers, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import pytest

from tests.support.distributions import build_wheel
from tests.support.fake_registry import FakeRegistry

from poetry_ci_image.image.base_root import BaseRoots
from poetry_ci_image.image.bytecode.maker import BytecodeMaker
from poetry_ci_image.image.cache.build_cache import BuildCache
from poetry_ci_image.image.layer_context import LayerContext
from poetry_ci_image.image.poetry_layers import PoetryLayers
from poetry_ci_image.image.poetry_layers import pinned_key
from poetry_ci_image.image.poetry_layers import poetry_layers
from poetry_ci_image.image.spec import BuildSpec
from poetry_ci_image.poetry import wheels
from poetry_ci_image.poetry.pins import pinned_set
from poetry_ci_image.reference import parse_image
from poetry_ci_image.run import Run
from poetry_ci_image.settings.target import Libc
from poetry_ci_image.settings.target import Target


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.tag.plan import PlannedPackage


AMD64 = Target((3, 12, 0), "linux/amd64", Libc("glibc", (2, 36)))
ARM64 = Target((3, 12, 0), "linux/arm64", Libc("glibc", (2, 36)))
PINS = ("cleo==2.1.0", "poetry==2.5.1", "rapidfuzz==3.14.6")


@dataclass
class Lines:
    status_lines: list[str] = field(default_factory=list)

    def status(self, message: str) -> None:
        self.status_lines.append(message)

    def detail(self, message: str) -> None:
        pass


@dataclass
class PoetryWheels:
    """The `Sources` seam for Poetry: made-up wheels of `pins` (rapidfuzz compiled for the
    target's architecture), or of the host's versions without pins; counts the downloads."""

    directory: Path
    pins: tuple[str, ...] | None = PINS
    host: tuple[str, ...] = PINS
    fetched: list[Target] = field(default_factory=list)

    def wheels(
        self, packages: Sequence[PlannedPackage], target: Target
    ) -> Iterator[tuple[str, Path]]:
        raise AssertionError("only Poetry's wheels here")

    def poetry_pins(self, target: Target) -> tuple[str, ...] | None:
        return self.pins

    def poetry_wheels(self, target: Target) -> list[Path]:
        self.fetched.append(target)
        found = []
        for pin in self.pins or self.host:
            name, _, version = pin.partition("==")
            compiled = f"cp312-cp312-manylinux_2_17_{target.machine}"
            tags = compiled if name == "rapidfuzz" else "py3-none-any"
            found.append(build_wheel(self.directory / target.machine, name, version, tags=tags))
        return found


def context(tmp_path: Path, sources: PoetryWheels, run_name: str, lines: Lines) -> LayerContext:
    """What writing the layers shares, for a run of its own (`run_name`) over one cache."""
    spec = BuildSpec(
        platforms=(),
        base=parse_image("registry.example/library/python:3.12-slim-bookworm"),
        poetry_version="2.5.1",
        layers=24,
        epoch=0,
        bytecode="off",
        labels={},
    )
    workdir = tmp_path / run_name
    cache = BuildCache(tmp_path / "cache", workdir)
    run = Run(lines, FakeRegistry(), cache.root)
    roots = BaseRoots({}, cache.directory("roots"), lines)
    return LayerContext(
        spec, sources, cache, run, workdir, BytecodeMaker("off", {}, roots, 1), roots
    )


def digests(poetry: PoetryLayers) -> list[str]:
    return [blob.digest for blob, _ in poetry.layers]


def test_a_warm_cache_gives_poetrys_layers_without_a_download(tmp_path: Path) -> None:
    sources = PoetryWheels(tmp_path / "wheels")
    first = poetry_layers(context(tmp_path, sources, "one", Lines()), AMD64)
    lines = Lines()
    again = poetry_layers(context(tmp_path, sources, "two", lines), AMD64)

    assert sources.fetched == [AMD64]
    assert digests(again) == digests(first)
    assert len(first.layers) == 2  # pure-Python and compiled
    assert not any(line.startswith("Writing") for line in lines.status_lines)


def test_a_layer_gone_from_the_cache_is_a_miss(tmp_path: Path) -> None:
    """Pruned (or lost) blobs: the pinned key finds no layers, the wheels are fetched again."""
    sources = PoetryWheels(tmp_path / "wheels")
    first = poetry_layers(context(tmp_path, sources, "one", Lines()), AMD64)
    first.layers[1][0].file.unlink()
    again = poetry_layers(context(tmp_path, sources, "two", Lines()), AMD64)

    assert sources.fetched == [AMD64, AMD64]
    assert digests(again) == digests(first)


def test_another_pinned_set_is_a_miss(tmp_path: Path) -> None:
    poetry_layers(context(tmp_path, PoetryWheels(tmp_path / "wheels"), "one", Lines()), AMD64)
    bumped = PoetryWheels(tmp_path / "wheels", pins=("cleo==2.2.0", *PINS[1:]))
    layers = poetry_layers(context(tmp_path, bumped, "two", Lines()), AMD64)

    assert bumped.fetched == [AMD64]
    assert len(layers.layers) == 2


def test_two_platforms_share_the_pure_python_layer(tmp_path: Path) -> None:
    sources = PoetryWheels(tmp_path / "wheels")
    amd64 = poetry_layers(context(tmp_path, sources, "one", Lines()), AMD64)
    arm64 = poetry_layers(context(tmp_path, sources, "two", Lines()), ARM64)

    assert digests(amd64)[0] == digests(arm64)[0]
    assert digests(amd64)[1] != digests(arm64)[1]


@pytest.mark.parametrize("host_version", ["1.0", "9.9"])
def test_the_pinned_key_does_not_depend_on_the_host(
    host_version: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The host's installed versions, whatever they are: the same pins, the same key."""

    @dataclass
    class Installed:
        version: str
        metadata: dict[str, str] = field(default_factory=lambda: {"Requires-Python": ">=3.10"})

    monkeypatch.setattr(wheels, "_installed", lambda name: Installed(host_version))
    monkeypatch.setattr(wheels, "running_poetry_version", lambda: "2.5.1")
    pins = wheels.poetry_pins(AMD64)
    assert pins is not None
    layer_context = context(tmp_path, PoetryWheels(tmp_path / "wheels"), "one", Lines())

    expected = pinned_set("2.5.1", AMD64)
    assert expected is not None
    assert pinned_key(layer_context, AMD64, pins) == pinned_key(layer_context, AMD64, expected)


def test_the_pinned_key_follows_the_set_and_the_target(tmp_path: Path) -> None:
    layer_context = context(tmp_path, PoetryWheels(tmp_path / "wheels"), "one", Lines())
    key = pinned_key(layer_context, AMD64, PINS)

    assert pinned_key(layer_context, AMD64, PINS) == key
    assert pinned_key(layer_context, AMD64, ("cleo==2.2.0", *PINS[1:])) != key
    assert pinned_key(layer_context, ARM64, PINS) != key
    musl = Target((3, 12, 0), "linux/amd64", Libc("musl", (1, 2)))
    assert pinned_key(layer_context, musl, PINS) != key


def test_without_pins_the_wheels_are_fetched_and_their_digests_find_the_layers(
    tmp_path: Path,
) -> None:
    sources = PoetryWheels(tmp_path / "wheels", pins=None)
    first = poetry_layers(context(tmp_path, sources, "one", Lines()), AMD64)
    lines = Lines()
    again = poetry_layers(context(tmp_path, sources, "two", lines), AMD64)

    assert sources.fetched == [AMD64, AMD64]
    assert digests(again) == digests(first)
    assert not any(line.startswith("Writing") for line in lines.status_lines)


def test_pinned_or_not_the_same_wheels_give_the_same_layers(tmp_path: Path) -> None:
    pinned = poetry_layers(
        context(tmp_path / "a", PoetryWheels(tmp_path / "wheels"), "one", Lines()), AMD64
    )
    unpinned = poetry_layers(
        context(tmp_path / "b", PoetryWheels(tmp_path / "wheels", pins=None), "one", Lines()),
        AMD64,
    )

    assert digests(pinned) == digests(unpinned)


@pytest.mark.parametrize("pins", [PINS, None], ids=["pinned", "unpinned"])
def test_the_venvs_packages_are_named_for_the_sbom(
    pins: tuple[str, ...] | None, tmp_path: Path
) -> None:
    """From the pins (even when the layers come from the cache with no wheel in hand), else
    from the wheels fetched."""
    sources = PoetryWheels(tmp_path / "wheels", pins=pins)
    first = poetry_layers(context(tmp_path, sources, "one", Lines()), AMD64)
    again = poetry_layers(context(tmp_path, sources, "two", Lines()), AMD64)

    expected = (("cleo", "2.1.0"), ("poetry", "2.5.1"), ("rapidfuzz", "3.14.6"))
    assert first.packages == expected
    assert again.packages == expected
