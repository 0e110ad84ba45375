"""Poetry itself for the image: its wheels for the target, and a pip for the target's Python.

The image gets the Poetry running the plugin. Its dependencies, when the plugin has pins for
this Poetry version and the target (pins.py), are exactly the pinned `name==version` set: pip
fetches those wheels for the target's tags (`--no-deps`), nothing of the host is read, and the
image's Poetry is a function of the Poetry version and the target.

Without pins (a Poetry release newer than the plugin), the dependencies are those the host's
Poetry runs with, for the *target's* markers (a host on CPython 3.10 needs `tomli`, a 3.11 target
does not). pip cannot be told another interpreter's markers, so the plugin walks the requirements
itself and asks pip for exactly those wheels. A requirement the host does not have installed
(the target is older than the host) is taken at the newest version that fits, and its own
requirements are read from its wheel.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import threading
import zipfile

from pathlib import Path
from typing import TYPE_CHECKING

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.errors import FetchError
from poetry_ci_image.plumbing.urls import hide_credentials
from poetry_ci_image.poetry.boundary import running_poetry_version
from poetry_ci_image.poetry.pins import pinned_set


if TYPE_CHECKING:
    from collections.abc import Iterable
    from importlib.metadata import Distribution

    from packaging.requirements import Requirement

    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.settings.target import Target


def poetry_pins(target: Target) -> tuple[str, ...] | None:
    """The running Poetry's pinned set for the target (None: the plugin has none); a target the
    running Poetry does not run on is refused."""
    from packaging.specifiers import SpecifierSet

    version = running_poetry_version()
    distribution = _installed("poetry")
    requires_python = distribution.metadata["Requires-Python"] if distribution else None
    python = ".".join(map(str, target.python))
    if requires_python and not SpecifierSet(requires_python).contains(python, prereleases=True):
        raise ConfigError(
            f"Poetry {version} runs on Python {requires_python}, and the target is "
            f"{target.python_minor}: it cannot go into the image.",
            "Set poetry = false in [tool.poetry-ci-image] (or --no-poetry), or a newer python.",
        )
    return pinned_set(version, target)


def poetry_wheels(
    target: Target,
    cache: Path,
    reporter: Reporter,
    cancelled: threading.Event | None = None,
    pins: tuple[str, ...] | None = None,
) -> Path:
    """A directory of wheels of this Poetry and its dependencies for the target, kept under
    `cache` (`<cache-dir>/ci-image/poetry/<key>`; the run's directory with --no-cache), made
    once per Poetry version, target and pinned set (`pins`; None: the host's versions)."""
    import tempfile

    version = running_poetry_version()
    libc = f"{target.libc.family}{target.libc.version[0]}.{target.libc.version[1]}"
    key = f"poetry-{version}-cp{target.python[0]}{target.python[1]}-{target.arch}-{libc}-" + (
        "2" if pins is None else hashlib.sha256("\n".join(pins).encode()).hexdigest()[:16]
    )
    directory = cache / key
    if (directory / ".complete").is_file():
        with contextlib.suppress(OSError):  # in use: the build cache's pruning keeps it
            os.utime(directory)
        return directory

    reporter.status(f"Downloading Poetry {version} for {target.describe()} (once, then cached)")
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=_ensure(cache)))
    # Another platform's download, done: its pure-Python wheels are this one's too.
    siblings = [
        other
        for other in sorted(
            cache.glob(f"poetry-{version}-cp{target.python[0]}{target.python[1]}-*")
        )
        if other != directory and (other / ".complete").is_file()
    ]
    try:
        if pins is None:
            _download_closure(target, staging, cancelled or threading.Event(), siblings)
        else:
            _download_pinned(target, pins, staging, cancelled or threading.Event(), siblings)
        (staging / ".complete").touch()
        try:
            staging.rename(directory)
        except OSError:  # another process finished first: use its copy
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _download_pinned(
    target: Target,
    pins: tuple[str, ...],
    destination: Path,
    cancelled: threading.Event,
    siblings: list[Path],
) -> None:
    """Exactly the pinned wheels, in one pip round; a pure-Python wheel another platform's
    download has is copied from there."""
    _fetch(target, pins, _pure_wheels(siblings), destination, cancelled)
    got = sorted(_wheels_by_pin(destination.glob("*.whl")))
    if got != sorted(pins):
        raise FetchError(
            f"Downloading Poetry's pinned wheels for {target.describe()} did not give the "
            f"pinned set (differing: {', '.join(sorted(set(got) ^ set(pins)))}).",
            "Check the host's pip configuration (a constraint or an index that rewrites "
            "versions), or set poetry = false in [tool.poetry-ci-image].",
        )


def _download_closure(
    target: Target, destination: Path, cancelled: threading.Event, siblings: list[Path]
) -> None:
    """Poetry and what it needs on the target, one pip round per level of not-installed ones;
    a pure-Python wheel another platform's download has is copied from there."""
    from packaging.requirements import Requirement

    pure = _pure_wheels(siblings)
    walk = _Closure(target)
    requests = walk.add([Requirement("poetry")])
    while requests:
        _fetch(target, requests, pure, destination, cancelled)
        requests = walk.add(walk.from_wheels(destination))


def _fetch(
    target: Target,
    wanted: Iterable[str],
    pure: dict[str, Path],
    destination: Path,
    cancelled: threading.Event,
) -> None:
    """The `wanted` wheels into `destination`: a pure-Python one another platform's download
    has is copied from there, the rest downloaded in one pip round."""
    fetch = []
    for want in wanted:
        if want in pure:
            shutil.copyfile(pure[want], destination / pure[want].name)
        else:
            fetch.append(want)
    if fetch:
        _pip_download(target, fetch, destination, cancelled)


def _pure_wheels(directories: list[Path]) -> dict[str, Path]:
    """`name==version` -> a pure-Python wheel of it, in `directories`."""
    found: dict[str, Path] = {}
    for directory in directories:
        for pin, wheel in _wheels_by_pin(directory.glob("*-none-any.whl")).items():
            found.setdefault(pin, wheel)
    return found


def _wheels_by_pin(wheels: Iterable[Path]) -> dict[str, Path]:
    """`name==version` -> its wheel, of `wheels`."""
    from packaging.utils import canonicalize_name
    from packaging.utils import parse_wheel_filename

    found: dict[str, Path] = {}
    for wheel in sorted(wheels):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        found.setdefault(f"{canonicalize_name(name)}=={version}", wheel)
    return found


class _Closure:
    """Requirements walked with the target's markers: pinned to the host's installed versions
    where the host has them; otherwise read from the wheels pip fetched for them."""

    def __init__(self, target: Target) -> None:
        self.environment = {
            key: value for key, value in target.marker_env().items() if isinstance(value, str)
        }
        self.done: set[str] = set()
        self.unpinned: dict[str, set[str]] = {}  # name -> extras asked for

    def add(self, requirements: Iterable[Requirement]) -> list[str]:
        """Walk from `requirements`; what pip must fetch next (`name==version` or `name<spec>`)."""
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name

        requests: list[str] = []
        pending = list(requirements)
        while pending:
            requirement = pending.pop()
            name = str(canonicalize_name(requirement.name))
            key = f"{name}[{','.join(sorted(requirement.extras))}]"
            if key in self.done:
                continue
            self.done.add(key)
            distribution = _installed(name)
            if distribution is None:
                if name not in self.unpinned:
                    requests.append(f"{name}{requirement.specifier}")
                self.unpinned.setdefault(name, set()).update(requirement.extras)
                continue
            requests.append(f"{name}=={distribution.version}")
            pending += self._needed(
                [Requirement(text) for text in distribution.requires or []], requirement.extras
            )
        return sorted(set(requests))

    def from_wheels(self, directory: Path) -> list[Requirement]:
        """The requirements of the wheels fetched for not-installed packages, for the target."""
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
        from packaging.utils import parse_wheel_filename

        found: list[Requirement] = []
        for wheel in sorted(directory.glob("*.whl")):
            name = str(canonicalize_name(parse_wheel_filename(wheel.name)[0]))
            extras = self.unpinned.pop(name, None)
            if extras is None:
                continue
            with zipfile.ZipFile(wheel) as archive:
                names = archive.namelist()
                text = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
            requires = [
                Requirement(line.split(":", 1)[1].strip())
                for line in text.decode().splitlines()
                if line.startswith("Requires-Dist:")
            ]
            found += self._needed(requires, extras)
        return found

    def _needed(self, requirements: list[Requirement], extras: Iterable[str]) -> list[Requirement]:
        """Those of `requirements` the target needs, with `extras` of the requiring package."""
        needed = []
        for requirement in requirements:
            marker = requirement.marker
            if marker is None or any(
                marker.evaluate({**self.environment, "extra": extra}) for extra in ("", *extras)
            ):
                needed.append(requirement)
        return needed


def _installed(name: str) -> Distribution | None:
    """The host's installed distribution `name`, read by the standard library's own finder.

    Not `importlib.metadata.distribution`, which asks the finders on `sys.meta_path`: once
    `importlib_metadata` is imported (keyring imports it when the main thread first asks for
    credentials), its finder replaces the standard library's there, and it is added while its
    module is still being imported, so on this thread it could run half-defined (NameError).
    """
    from importlib.metadata import DistributionFinder
    from importlib.metadata import MetadataPathFinder

    found = MetadataPathFinder.find_distributions(DistributionFinder.Context(name=name))
    return next(iter(found), None)


def _pip_download(
    target: Target, requirements: list[str], destination: Path, cancelled: threading.Event
) -> None:
    command = [
        sys.executable,
        str(embedded_pip_wheel(target) / "pip"),
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        target.python_minor,
        "--abi",
        f"cp{target.python[0]}{target.python[1]}",
        *[arg for tag in target.platform_tags() for arg in ("--platform", tag)],
        "--dest",
        str(destination),
        *requirements,
    ]
    returncode, stderr = _run(command, cancelled)
    if returncode != 0:
        tail = "\n".join(hide_credentials(stderr).strip().splitlines()[-8:])
        raise FetchError(
            f"Downloading Poetry's wheels for {target.describe()} failed:\n{tail}",
            "Check the host's network and pip configuration, or set poetry = false in "
            "[tool.poetry-ci-image] to leave Poetry out of the image.",
        )


def _run(command: list[str], cancelled: threading.Event) -> tuple[int, str]:
    """Run pip; stop it when the run is cancelled (Ctrl-C reaches the main thread only)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, text=True)
        try:
            while True:
                try:
                    returncode = process.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if cancelled.is_set():
                        raise KeyboardInterrupt from None
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait()
        errors.seek(0)
        return returncode, errors.read()


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_pip_wheel(target: Target) -> Path:
    """The pip wheel virtualenv (a Poetry dependency) embeds for the target's Python."""
    from virtualenv.seed.wheels.embed import get_embed_wheel

    wheel = get_embed_wheel("pip", target.python_minor)
    if wheel is None:
        raise FetchError(
            f"No pip wheel for Python {target.python_minor} ships with this Poetry's virtualenv.",
            "Upgrade Poetry (`poetry self update`), or choose another python.",
        )
    path: Path = wheel.path
    return path
