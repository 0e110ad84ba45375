"""A virtual environment's skeleton, made without running the base image's Python.

What `python -m venv --without-pip` writes on a POSIX system is a handful of files, all known in
advance from the base's Python (its path and version): `pyvenv.cfg`, the `python` links in
`bin/`, the empty `include/` and `lib/pythonX.Y/site-packages/`, and `lib64 -> lib`. They are
written here, plus a small `bin/activate` for scripts that source it. The skeleton has a layer
of its own: it changes only with the base's Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.image.tarball import directory_entry
from poetry_ci_image.image.tarball import file_entry
from poetry_ci_image.image.tarball import symlink_entry


if TYPE_CHECKING:
    from poetry_ci_image.image.tarball import Entry


@dataclass(frozen=True)
class BasePython:
    """The base image's CPython: the interpreter a venv's `python` links to."""

    executable: str  # e.g. /usr/local/bin/python3.12
    version: str  # X.Y.Z when the base says it, else X.Y

    @property
    def home(self) -> str:
        return self.executable.rsplit("/", 1)[0]

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


ACTIVATE = """\
# This file must be used with "source bin/activate" from a POSIX shell; the image sets
# VIRTUAL_ENV and PATH already, so CI jobs need not source it.
deactivate () {{
    if [ -n "${{_OLD_VIRTUAL_PATH:-}}" ]; then PATH="$_OLD_VIRTUAL_PATH"; export PATH; fi
    unset _OLD_VIRTUAL_PATH VIRTUAL_ENV VIRTUAL_ENV_PROMPT
    hash -r 2>/dev/null
    [ "${{1:-}}" = "nondestructive" ] || unset -f deactivate
}}
deactivate nondestructive
VIRTUAL_ENV={venv}
VIRTUAL_ENV_PROMPT={name}
export VIRTUAL_ENV VIRTUAL_ENV_PROMPT
_OLD_VIRTUAL_PATH="$PATH"
PATH="$VIRTUAL_ENV/bin:$PATH"
export PATH
hash -r 2>/dev/null
"""


def venv_skeleton(venv: str, python: BasePython) -> list[Entry]:
    """The entries of an empty venv at `venv` (an absolute path) for the base's `python`."""
    root = venv.strip("/")
    minor = python.minor
    config = (
        f"home = {python.home}\n"
        "include-system-site-packages = false\n"
        f"version = {python.version}\n"
        f"executable = {python.executable}\n"
        f"command = {python.executable} -m venv --without-pip {venv}\n"
    )
    return [
        file_entry(f"{root}/pyvenv.cfg", config.encode()),
        symlink_entry(f"{root}/bin/python", python.executable),
        symlink_entry(f"{root}/bin/python3", "python"),
        symlink_entry(f"{root}/bin/python{minor}", "python"),
        file_entry(
            f"{root}/bin/activate",
            ACTIVATE.format(venv=venv, name=venv.rsplit("/", 1)[-1]).encode(),
        ),
        directory_entry(f"{root}/include"),
        directory_entry(f"{root}/lib/python{minor}/site-packages"),
        symlink_entry(f"{root}/lib64", "lib"),
    ]
