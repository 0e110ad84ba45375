"""Poetry's dependencies in the image, pinned by the plugin (poetry/pins.json).

What these pin: every Poetry version the suite tests has a set for every CPython minor it runs on,
each architecture and libc; each set holds that Poetry and satisfies its requirements for the
target; with pins, what goes into the image reads nothing of the host; without them, the host's
versions are taken as before, and the run says so once.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from dataclasses import field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from packaging.specifiers import SpecifierSet
from tests.support.distributions import build_wheel
from tests.support.fake_registry import FakeRegistry

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.errors import FetchError
from poetry_ci_image.poetry import pins as pins_module
from poetry_ci_image.poetry import wheels
from poetry_ci_image.poetry.pins import PINNED_LIBC
from poetry_ci_image.poetry.pins import pin_key
from poetry_ci_image.poetry.pins import pinned_set
from poetry_ci_image.poetry.pins import pins_data
from poetry_ci_image.poetry.pins import unmet_requirements
from poetry_ci_image.poetry.sources import PoetrySources
from poetry_ci_image.run import Run
from poetry_ci_image.settings.target import PLATFORMS
from poetry_ci_image.settings.target import Libc
from poetry_ci_image.settings.target import Target


if TYPE_CHECKING:
    import threading

    from poetry_ci_image.poetry.project import Project


ROOT = Path(__file__).resolve().parents[2]
MINORS = tuple(range(9, 15))  # the CPython minors Poetry 2 runs on, 3.9 to 3.14
AMD64 = Target((3, 12, 0), "linux/amd64", Libc("glibc", (2, 36)))
ARM64 = Target((3, 12, 0), "linux/arm64", Libc("glibc", (2, 36)))


def versions_under_test() -> list[str]:
    """The versions .ci/poetry-matrix tests, and the one poetry.lock has."""
    matrix = (ROOT / ".ci" / "poetry-matrix").read_text()
    found = re.search(r'VERSIONS=\$\{POETRY_MATRIX:-"([^"]+)"\}', matrix)
    locked = re.search(
        r'\nname = "poetry"\nversion = "([^"]+)"', (ROOT / "poetry.lock").read_text()
    )
    assert found is not None
    assert locked is not None
    return sorted({*found[1].split(), locked[1]})


def targets_of(minor: int) -> list[Target]:
    """Every architecture and libc of CPython 3.`minor`, at the oldest libc the pins serve."""
    return [
        Target((3, minor, 0), platform, Libc(family, version))
        for platform in PLATFORMS
        for family, version in PINNED_LIBC.items()
    ]


def every_pinned_target() -> list[tuple[str, Target]]:
    data = pins_data()
    return [
        (version, target)
        for version, entry in data["poetry"].items()
        for minor in range(9, 16)
        for target in targets_of(minor)
        if pin_key(target) in entry["targets"]
    ]


@pytest.mark.parametrize("version", versions_under_test())
def test_every_tested_poetry_has_pins_for_every_minor_it_runs_on(version: str) -> None:
    """Each minor 3.9-3.14 that Poetry's Requires-Python allows, both architectures, glibc and
    musl: a set, holding that Poetry."""
    entry = pins_data()["poetry"].get(version)
    assert entry is not None, f"no pins for Poetry {version}: run scripts/pin_poetry.py"
    runs_on = SpecifierSet(entry["requires_python"])
    missing = [
        pin_key(target)
        for minor in MINORS
        if runs_on.contains(f"3.{minor}.0")
        for target in targets_of(minor)
        if f"poetry=={version}" not in (pinned_set(version, target) or ())
    ]
    assert missing == []


def test_poetry_versions_that_drop_a_minor_say_so() -> None:
    """Poetry 2.3 and later run on 3.10 and later: no pins for 3.9, by Poetry's own metadata."""
    for version, entry in pins_data()["poetry"].items():
        runs_on_39 = SpecifierSet(entry["requires_python"]).contains("3.9.0")
        assert runs_on_39 == any(key.startswith("3.9-") for key in entry["targets"]), version


@pytest.mark.parametrize(
    ("version", "target"),
    [pytest.param(v, t, id=f"{v}-{pin_key(t)}") for v, t in every_pinned_target()],
)
def test_each_set_satisfies_its_poetrys_requirements(version: str, target: Target) -> None:
    """Poetry's Requires-Dist (recorded beside the sets) for the target's markers, all met."""
    pins = pinned_set(version, target)
    assert pins is not None
    assert f"poetry=={version}" in pins
    assert unmet_requirements(pins_data()["poetry"][version]["requires"], target, pins) == []


def test_the_running_poetrys_requirements_are_met_on_every_target() -> None:
    """The installed Poetry's own metadata, not the recorded copy: a set that does not satisfy
    the Poetry that runs the plugin fails here."""
    poetry = metadata.distribution("poetry")
    entry = pins_data()["poetry"].get(poetry.version)
    assert entry is not None, f"no pins for the running Poetry {poetry.version}"
    assert entry["requires_python"] == poetry.metadata["Requires-Python"]
    for minor in MINORS:
        for target in targets_of(minor):
            pins = pinned_set(poetry.version, target)
            if pins is not None:
                assert unmet_requirements(poetry.requires or [], target, pins) == [], target


def test_an_unmet_requirement_is_caught() -> None:
    """The check bites: a set without one of Poetry's requirements, or at another version."""
    requires = ["cleo (>=2.1.0,<3.0.0)", 'tomli (>=2.0.1) ; python_version < "3.11"']
    old = Target((3, 10, 0), "linux/amd64", Libc("glibc", (2, 28)))

    assert unmet_requirements(requires, old, ["cleo==2.1.0", "tomli==2.0.1"]) == []
    assert unmet_requirements(requires, old, ["cleo==3.0.0", "tomli==2.0.1"]) == [requires[0]]
    assert unmet_requirements(requires, old, ["cleo==2.1.0"]) == [requires[1]]
    assert unmet_requirements(requires, AMD64, ["cleo==2.1.0"]) == []


@pytest.mark.parametrize(
    ("poetry_version", "target"),
    [
        pytest.param("2.5.1", AMD64, id="a pinned version and target"),
        pytest.param("9.9.9", AMD64, id="a Poetry newer than the pins: none"),
        pytest.param(
            "2.5.1",
            Target((3, 12, 0), "linux/amd64", Libc("glibc", (2, 17))),
            id="a glibc older than the pins serve: none",
        ),
        pytest.param(
            "2.5.1",
            Target((3, 9, 0), "linux/amd64", Libc("glibc", (2, 36))),
            id="a minor Poetry does not run on: none",
        ),
    ],
)
def test_which_targets_have_pins(poetry_version: str, target: Target) -> None:
    expected = poetry_version == "2.5.1" and target == AMD64
    assert (pinned_set(poetry_version, target) is not None) == expected


# What wheels.py reads of the host, made up: another host, other versions.
@dataclass
class FakeDistribution:
    version: str
    metadata: dict[str, str] = field(default_factory=lambda: {"Requires-Python": ">=3.10"})
    requires: list[str] = field(default_factory=list)


@dataclass
class Host:
    """The host's installed distributions as wheels.py sees them; records what was read."""

    version: str
    read: list[str] = field(default_factory=list)

    def installed(self, name: str) -> FakeDistribution:
        self.read.append(name)
        return FakeDistribution(self.version)


@pytest.fixture
def pip(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """pip, made up: each download writes a wheel per `name==version` asked; the requests."""
    asked: list[list[str]] = []

    def download(
        target: Target, requirements: list[str], destination: Path, cancelled: threading.Event
    ) -> None:
        asked.append(list(requirements))
        for requirement in requirements:
            name, _, version = requirement.partition("==")
            build_wheel(destination, name, version or "1.0")

    monkeypatch.setattr(wheels, "_pip_download", download)
    return asked


@dataclass
class Lines:
    status_lines: list[str] = field(default_factory=list)

    def status(self, message: str) -> None:
        self.status_lines.append(message)

    def detail(self, message: str) -> None:
        pass


@pytest.mark.parametrize("host_version", ["1.0", "9.9"])
def test_with_pins_the_download_is_the_set_whatever_the_host_has(
    host_version: str, monkeypatch: pytest.MonkeyPatch, pip: list[list[str]], tmp_path: Path
) -> None:
    """Whatever versions the host's Poetry runs with, pip is asked for the pinned set, once."""
    host = Host(host_version)
    monkeypatch.setattr(wheels, "_installed", host.installed)
    monkeypatch.setattr(wheels, "running_poetry_version", lambda: "2.5.1")

    pins = wheels.poetry_pins(AMD64)
    assert pins == pinned_set("2.5.1", AMD64)
    assert pins is not None
    directory = wheels.poetry_wheels(AMD64, tmp_path, Lines(), pins=pins)

    assert pip == [list(pins)]
    assert host.read == ["poetry"]  # its Requires-Python, nothing else
    assert len(list(directory.glob("*.whl"))) == len(pins)


def test_a_pure_wheel_of_another_platforms_download_is_copied(
    monkeypatch: pytest.MonkeyPatch, pip: list[list[str]], tmp_path: Path
) -> None:
    monkeypatch.setattr(wheels, "running_poetry_version", lambda: "2.5.1")
    pins = ("alpha==1.0", "beta==2.0")

    wheels.poetry_wheels(AMD64, tmp_path, Lines(), pins=pins)
    wheels.poetry_wheels(ARM64, tmp_path, Lines(), pins=pins)

    assert pip == [list(pins)]  # the made-up pip makes pure wheels only


def test_a_download_that_is_not_the_set_is_refused(
    monkeypatch: pytest.MonkeyPatch, pip: list[list[str]], tmp_path: Path
) -> None:
    monkeypatch.setattr(wheels, "running_poetry_version", lambda: "2.5.1")
    other = build_wheel(tmp_path / "other", "alpha", "1.1")  # a pip that gives another version
    monkeypatch.setattr(wheels, "_pure_wheels", lambda _: {"alpha==1.0": other})

    with pytest.raises(FetchError, match=r"did not give the pinned set \(differing: alpha=="):
        wheels.poetry_wheels(AMD64, tmp_path, Lines(), pins=("alpha==1.0",))


def test_a_target_the_running_poetry_does_not_run_on_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wheels, "_installed", Host("1.0").installed)  # Requires-Python >=3.10
    monkeypatch.setattr(wheels, "running_poetry_version", lambda: "2.5.1")
    old = Target((3, 9, 0), "linux/amd64", Libc("glibc", (2, 36)))

    with pytest.raises(
        ConfigError, match=r"Poetry 2.5.1 runs on Python >=3.10, and the target is 3.9"
    ):
        wheels.poetry_pins(old)


def test_without_pins_the_hosts_versions_are_taken_and_said_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A Poetry newer than the plugin's pins: the walk over the host's versions, as before."""
    walked: list[Target] = []

    def walk(target: Target, destination: Path, *args: Any) -> None:
        walked.append(target)
        build_wheel(destination, "poetry", "9.9.9")

    monkeypatch.setattr(pins_module, "pins_data", lambda: {"poetry": {}, "sets": {}})
    monkeypatch.setattr(wheels, "_download_closure", walk)
    lines = Lines()
    run = Run(lines, FakeRegistry(), tmp_path)
    project: Project = None  # type: ignore[assignment]  # not read for Poetry's wheels
    sources = PoetrySources(project, tmp_path / "work", run, tmp_path / "poetry")

    assert sources.poetry_pins(AMD64) is None
    amd64 = sources.poetry_wheels(AMD64)
    arm64 = sources.poetry_wheels(ARM64)

    assert walked == [AMD64, ARM64]
    assert [path.name for path in amd64] == [path.name for path in arm64]
    said = [line for line in lines.status_lines if "no pins" in line]
    assert len(said) == 1
    assert "the image's Poetry can change under the same tag" in said[0]


def test_the_pins_ship_in_the_plugins_wheel(tmp_path: Path) -> None:
    """poetry build (poetry-core, the build backend) puts pins.json beside its module."""
    import zipfile

    from poetry.core.factory import Factory
    from poetry.core.masonry.builders.wheel import WheelBuilder

    name = WheelBuilder.make_in(Factory().create_poetry(ROOT), tmp_path)
    with zipfile.ZipFile(tmp_path / name) as wheel:
        shipped = wheel.read("poetry_ci_image/poetry/pins.json")
    assert shipped == pins_module.PINS_FILE.read_bytes()
