"""The image assembled from a plan, through the seams: real wheels, an in-memory registry.

What these pin: the same inputs give the same digest from any directory or cache; a bump moves
one layer; overlapping wheels resolve as documented; a warm cache fetches and writes nothing;
the push sends blobs before the tag. The real registry and engine are in tests/integration.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import pytest

from tests.support.distributions import build_wheel
from tests.support.distributions import sha256_of
from tests.support.fake_registry import FakeRegistry
from tests.support.fake_registry import add_base

from poetry_ci_image.image.assemble import assemble_image
from poetry_ci_image.image.cache.build_cache import BuildCache
from poetry_ci_image.image.spec import BuildSpec
from poetry_ci_image.jobs.push_job import blobs_of
from poetry_ci_image.jobs.push_job import manifests_of
from poetry_ci_image.reference import parse_image
from poetry_ci_image.registry.transfer import push_to_registry
from poetry_ci_image.run import Run
from poetry_ci_image.settings.target import Libc
from poetry_ci_image.settings.target import Target
from poetry_ci_image.tag.plan import Distribution
from poetry_ci_image.tag.plan import InstallPlan
from poetry_ci_image.tag.plan import PlannedPackage
from poetry_ci_image.tag.plan import Source
from poetry_ci_image.tag.plan import TargetPlan


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.image.assemble import Image


AMD64 = Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 36)))
ARM64 = Target((3, 11, 0), "linux/arm64", Libc("glibc", (2, 36)))
MUSL = Target((3, 11, 0), "linux/amd64", Libc("musl", (1, 2)))
SITE = "opt/venv/lib/python3.11/site-packages"


@dataclass
class Wheels:
    """The `Sources` seam over a directory of wheels; records what it was asked for."""

    directory: Path
    asked: list[str] = field(default_factory=list)

    def wheels(
        self, packages: Sequence[PlannedPackage], target: Target
    ) -> Iterator[tuple[str, Path]]:
        self.asked += [package.name for package in packages]
        for package in packages:
            assert package.distribution is not None
            yield package.name, self.directory / package.distribution.filename

    def poetry_pins(self, target: Target) -> tuple[str, ...] | None:
        raise AssertionError("Poetry stays out of these images")

    def poetry_wheels(self, target: Target) -> list[Path]:
        raise AssertionError("Poetry stays out of these images")


@dataclass
class Lines:
    status_lines: list[str] = field(default_factory=list)

    def status(self, message: str) -> None:
        self.status_lines.append(message)

    def detail(self, message: str) -> None:
        pass


def pure(directory: Path, *stems: str) -> list[Path]:
    """The pure wheels `name-version` of `directory`."""
    return [directory / f"{stem}-py3-none-any.whl" for stem in stems]


def planned(wheels: Sequence[Path]) -> InstallPlan:
    packages = []
    for wheel in sorted(wheels, key=lambda w: w.name):
        name, version = wheel.name.split("-")[:2]
        distribution = Distribution(wheel.name, f"sha256:{sha256_of(wheel)}")
        packages.append(PlannedPackage(name, version, Source("pypi"), distribution))
    return InstallPlan(tuple(packages), ("main",), ())


@pytest.fixture
def registry() -> FakeRegistry:
    registry = FakeRegistry()
    add_base(registry, platforms=("linux/amd64", "linux/arm64"))
    return registry


BASE = parse_image("registry.example/library/python:3.11-slim-bookworm")


def assemble(
    registry: FakeRegistry,
    wheels: Wheels,
    plan: InstallPlan,
    where: Path,
    *,
    cache: Path | None,
    targets: Sequence[Target] = (AMD64,),
    lines: Lines | None = None,
) -> Image:
    spec = BuildSpec(
        platforms=tuple(TargetPlan(target, plan) for target in targets),
        base=BASE,
        poetry_version=None,
        layers=24,
        epoch=0,
        bytecode="off",
        labels={"io.github.poetry-ci-image.fingerprint": "f" * 64},
    )
    where.mkdir(parents=True, exist_ok=True)
    build_cache = BuildCache(cache, where)
    run = Run(lines or Lines(), registry, cache)
    return assemble_image(spec, wheels, run, build_cache, where)


def layer_files(registry_image: Image, index: int = -1) -> dict[str, bytes]:
    """The files of one of the plugin's layers (the last one by default)."""
    path = registry_image.platforms[0].layers[index].file
    files = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(path.read_bytes()))) as tar:
        for member in tar:
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[member.name] = extracted.read()
    return files


@pytest.fixture
def wheel_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "wheels"
    build_wheel(directory, "alpha", "1.0", requires=("beta",))
    build_wheel(directory, "beta", "1.0")
    build_wheel(directory, "beta", "2.0")
    build_wheel(directory, "gamma", "1.0", files={"gamma/data.bin": b"\0" * 3_000_000})
    return directory


def test_same_inputs_same_digest_from_another_directory_and_cache(
    registry: FakeRegistry, wheel_dir: Path, tmp_path: Path
) -> None:
    """Two builds of one plan, each with its own run directory and cache: the same image."""
    plan = planned(
        [wheel_dir / n for n in ("alpha-1.0-py3-none-any.whl", "beta-2.0-py3-none-any.whl")]
    )
    first = assemble(registry, Wheels(wheel_dir), plan, tmp_path / "one", cache=tmp_path / "c1")
    second = assemble(registry, Wheels(wheel_dir), plan, tmp_path / "two", cache=None)
    assert first.digest == second.digest
    assert first.top == second.top


def test_a_bump_changes_one_layer_and_the_config(
    registry: FakeRegistry, wheel_dir: Path, tmp_path: Path
) -> None:
    """beta 1.0 -> 2.0: every layer but beta's is the same blob."""
    names = ["alpha-1.0-py3-none-any.whl", "gamma-1.0-py3-none-any.whl"]
    before = planned([wheel_dir / n for n in [*names, "beta-1.0-py3-none-any.whl"]])
    after = planned([wheel_dir / n for n in [*names, "beta-2.0-py3-none-any.whl"]])
    old = assemble(registry, Wheels(wheel_dir), before, tmp_path / "a", cache=tmp_path / "c")
    new = assemble(registry, Wheels(wheel_dir), after, tmp_path / "b", cache=tmp_path / "c")
    old_layers = [layer.digest for layer in old.platforms[0].layers]
    new_layers = [layer.digest for layer in new.platforms[0].layers]
    assert len(old_layers) == len(new_layers)
    assert len(set(old_layers) - set(new_layers)) == 1
    assert old.platforms[0].config_digest != new.platforms[0].config_digest


def test_a_warm_cache_fetches_and_writes_nothing(
    registry: FakeRegistry, wheel_dir: Path, tmp_path: Path
) -> None:
    """The runner kept Poetry's cache: no wheel is fetched, no file of the cache written (no
    layer, no record; none says so), same image."""
    plan = planned(
        [wheel_dir / "beta-2.0-py3-none-any.whl", wheel_dir / "gamma-1.0-py3-none-any.whl"]
    )
    first = assemble(registry, Wheels(wheel_dir), plan, tmp_path / "a", cache=tmp_path / "c")
    kept = files_of(tmp_path / "c")
    assert any(name.startswith("layers/") for name in kept)  # the first build filled it
    again = Wheels(wheel_dir)
    lines = Lines()
    second = assemble(registry, again, plan, tmp_path / "b", cache=tmp_path / "c", lines=lines)
    assert again.asked == []
    assert files_of(tmp_path / "c") == kept
    assert not any(line.startswith("Writing") for line in lines.status_lines)
    assert second.digest == first.digest


def files_of(directory: Path) -> dict[str, int]:
    """Every file under `directory`, by its path there, with its inode: a file written again,
    even with the same bytes, is a new file (the cache writes beside and renames)."""
    return {
        str(path.relative_to(directory)): path.stat().st_ino
        for path in directory.rglob("*")
        if path.is_file()
    }


def test_the_config_says_where_the_venv_is_and_what_each_layer_holds(
    registry: FakeRegistry, wheel_dir: Path, tmp_path: Path
) -> None:
    """VIRTUAL_ENV, PATH first, the labels, the epoch as created, one history entry per layer."""
    plan = planned(
        [wheel_dir / "beta-2.0-py3-none-any.whl", wheel_dir / "gamma-1.0-py3-none-any.whl"]
    )
    image = assemble(registry, Wheels(wheel_dir), plan, tmp_path / "a", cache=None)
    config = json.loads(image.platforms[0].config)
    env = config["config"]["Env"]
    assert "VIRTUAL_ENV=/opt/venv" in env
    assert "PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in env
    labels = config["config"]["Labels"]
    assert labels["io.github.poetry-ci-image.target"] == "CPython 3.11 on linux/amd64 (glibc 2.36)"
    assert labels["org.opencontainers.image.base.digest"] == image.platforms[0].base.digest
    assert config["created"] == "1970-01-01T00:00:00Z"
    comments = [entry.get("comment") for entry in config["history"][1:]]
    assert comments[0] == "the venvs' skeleton, for /usr/bin/python3.11"
    assert "gamma 1.0" in comments
    assert len(config["rootfs"]["diff_ids"]) == 1 + len(image.platforms[0].layers)


def test_overlapping_wheels_identical_bytes_land_once_quietly(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    """cssbeautifier-like: a wheel ships another's files byte for byte; one copy, no warning."""
    directory = tmp_path / "wheels"
    shared = {"jsbeautifier/core.py": "CORE = 1\n"}
    build_wheel(directory, "jsbeautifier", "2.0.1", files=shared)
    build_wheel(directory, "cssbeautifier", "2.0.1", files=shared)
    lines = Lines()
    image = assemble(
        registry,
        Wheels(directory),
        planned(list(directory.glob("*.whl"))),
        tmp_path / "a",
        cache=None,
        lines=lines,
    )
    everything = [
        path
        for index in range(len(image.platforms[0].layers))
        for path in layer_files(image, index)
    ]
    assert everything.count(f"{SITE}/jsbeautifier/core.py") == 1
    assert not any("Warning" in line for line in lines.status_lines)


def test_overlapping_wheels_different_bytes_warn_and_the_later_name_wins_if_neither_owns(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    """Two wheels write one path with different bytes: a warning naming both; the later wins."""
    directory = tmp_path / "wheels"
    build_wheel(directory, "nsa", "1.0", files={"ns/__init__.py": "# old style\n"})
    build_wheel(directory, "nsb", "1.0", files={"ns/__init__.py": "# new style\n"})
    lines = Lines()
    image = assemble(
        registry,
        Wheels(directory),
        planned(list(directory.glob("*.whl"))),
        tmp_path / "a",
        cache=None,
        lines=lines,
    )
    merged: dict[str, bytes] = {}
    for index in range(len(image.platforms[0].layers)):
        for path, data in layer_files(image, index).items():
            assert path not in merged, f"{path} is in two layers"
            merged[path] = data
    assert merged[f"{SITE}/ns/__init__.py"] == b"# new style\n"
    assert (
        "Warning: nsa and nsb both install ns/__init__.py, with different content: the image "
        "holds nsb's (neither owns the import name, and the later name wins; `poetry install` "
        "installs them at once, so which copy it leaves varies)."
    ) in lines.status_lines


def test_two_platforms_give_an_index_and_share_pure_layers(
    registry: FakeRegistry, wheel_dir: Path, tmp_path: Path
) -> None:
    """linux/amd64 and linux/arm64 of a pure plan: an index of two; the same dependency layers."""
    plan = planned([wheel_dir / "beta-2.0-py3-none-any.whl"])
    image = assemble(
        registry, Wheels(wheel_dir), plan, tmp_path / "a", cache=None, targets=(AMD64, ARM64)
    )
    assert image.index is not None
    index = json.loads(image.index)
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    amd, arm = image.platforms
    assert amd.layers[1:] == arm.layers[1:]  # the skeleton differs only if the Pythons do


def test_the_push_sends_every_blob_before_the_tag(
    registry: FakeRegistry, wheel_dir: Path, tmp_path: Path
) -> None:
    """Blobs first (the base's mounted, not copied), then the manifest by its digest, then the
    tags; again, and all are there."""
    plan = planned([wheel_dir / "beta-2.0-py3-none-any.whl"])
    image = assemble(registry, Wheels(wheel_dir), plan, tmp_path / "a", cache=tmp_path / "c")
    target = parse_image("registry.example/team/app/ci-image:py3.11-amd64-0123456789abcdef")
    cache = BuildCache(tmp_path / "c", tmp_path / "a")
    registry.calls.clear()
    tags = ["py3.11-amd64-0123456789abcdef", "latest"]
    stats = push_to_registry(
        blobs_of(image, cache, target), manifests_of(image, tags), target, registry, Lines()
    )
    assert (stats.mounted, stats.copied, stats.present) == (1, 0, 0)
    assert stats.uploaded == len(image.platforms[0].layers) + 1
    puts = [call for call in registry.calls if call.startswith("PUT manifest")]
    assert puts == [
        f"PUT manifest team/app/ci-image:{image.platforms[0].digest}",
        "PUT manifest team/app/ci-image:py3.11-amd64-0123456789abcdef",
        "PUT manifest team/app/ci-image:latest",
    ]
    assert registry.calls.index(puts[0]) > max(
        i for i, call in enumerate(registry.calls) if call.startswith(("PUT blob", "MOUNT"))
    )
    again = push_to_registry(
        blobs_of(image, cache, target), manifests_of(image, tags[:1]), target, registry, Lines()
    )
    assert (again.uploaded, again.mounted, again.present) == (0, 0, stats.uploaded + 1)


def test_a_musl_target_on_an_alpine_like_base(tmp_path: Path) -> None:
    """musl: the base's loader says musl, its Python is found, the image is assembled."""
    registry = FakeRegistry()
    alpine = {
        "lib/ld-musl-x86_64.so.1": b"\x7fELF",
        "lib/apk/db/installed": b"P:musl\nV:1.2.5-r0\n\nP:python3\nV:3.11.11-r0\n",
        "usr/bin/python3.11": b"\x7fELF",
    }
    add_base(registry, "library/python", "3.11-alpine", files=alpine)
    directory = tmp_path / "wheels"
    wheel = build_wheel(directory, "beta", "2.0")
    spec = BuildSpec(
        platforms=(
            TargetPlan(Target((3, 11, 0), "linux/amd64", Libc("musl", (1, 2))), planned([wheel])),
        ),
        base=parse_image("registry.example/library/python:3.11-alpine"),
        poetry_version=None,
        layers=24,
        epoch=0,
        bytecode="off",
        labels={},
    )
    run = Run(Lines(), registry, None)
    image = assemble_image(spec, Wheels(directory), run, BuildCache(None, tmp_path), tmp_path)
    config = json.loads(image.platforms[0].config)
    assert config["config"]["Labels"]["io.github.poetry-ci-image.target"] == (
        "CPython 3.11 on linux/amd64 (musl 1.2)"
    )
    skeleton = layer_files(image, 0)
    assert b"version = 3.11.11" in skeleton["opt/venv/pyvenv.cfg"]
