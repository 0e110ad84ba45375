"""Poetry itself for the image: its wheels for the target, and a pip for the target's Python."""

from __future__ import annotations

import sys
import threading

from pathlib import Path
from typing import TYPE_CHECKING

from poetry_ci_image.errors import FetchError
from poetry_ci_image.urls import hide_credentials


if TYPE_CHECKING:
    from collections.abc import Callable

    from poetry_ci_image.target import Target


def poetry_wheels(
    target: Target,
    on_progress: Callable[[str], None],
    cancelled: threading.Event | None = None,
) -> Path:
    """A directory of wheels of this Poetry and its dependencies for the target, cached on the host.

    Poetry's dependencies are pinned to the versions the host's Poetry runs with, where the
    target needs them too.
    """
    import shutil
    import tempfile

    from poetry.__version__ import __version__ as version

    pip_wheel = embedded_pip_wheel(target)
    from poetry_ci_image.poetry.project import cache_directory

    cache = cache_directory() / "ci-image" / "poetry"
    libc = f"{target.libc.family}{target.libc.version[0]}.{target.libc.version[1]}"
    key = f"poetry-{version}-cp{target.python[0]}{target.python[1]}-{target.arch}-{libc}"
    directory = cache / key
    if (directory / ".complete").is_file():
        return directory

    on_progress(f"downloading Poetry {version} for {target.describe()} (once, then cached)")
    staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=_ensure(cache)))
    constraints = staging / "constraints.txt"
    constraints.write_text("\n".join(_host_poetry_pins()) + "\n")
    command = [
        sys.executable,
        str(pip_wheel / "pip"),
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        target.python_minor,
        "--abi",
        f"cp{target.python[0]}{target.python[1]}",
        *[arg for tag in target.platform_tags() for arg in ("--platform", tag)],
        "--dest",
        str(staging),
        "--constraint",
        str(constraints),
        f"poetry=={version}",
    ]
    try:
        returncode, stderr = _run(command, cancelled or threading.Event())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join(hide_credentials(stderr).strip().splitlines()[-8:])
        raise FetchError(
            f"Downloading Poetry {version} for {target.describe()} failed:\n{tail}",
            "Check the host's network and pip configuration, or set poetry = false in "
            "[tool.poetry-ci-image] to leave Poetry out of the image.",
        )
    constraints.unlink()
    (staging / ".complete").touch()
    try:
        staging.rename(directory)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return directory


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


def _host_poetry_pins() -> list[str]:
    """`name==version` for Poetry and everything it requires, as installed on the host."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    pending = ["poetry"]
    while pending:
        name = canonicalize_name(pending.pop())
        if name in pins:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        pins[name] = distribution.version
        for requirement in distribution.requires or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or "extra" not in str(parsed.marker):
                pending.append(parsed.name)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


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
