"""The standard library's bytecode, when the base ships none.

The official `python` images delete every `.pyc` of their standard library, so each new
container compiles what it imports from it, in every process a read-only or non-root job runs.
The modules of the base's standard library that have no pyc for its interpreter get one here,
compiled by that interpreter, in a layer of their own (it changes only with the base). Modules
that have one keep it: the base's own pycs are valid as they are.
"""

from __future__ import annotations

import os
import posixpath

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from poetry_ci_image.image.base_runtime import Runtime


def pyc_path(source: str, cache_tag: str) -> str:
    """Where the pyc of `source` (a path ending in .py) goes: `__pycache__/<name>.<tag>.pyc`."""
    directory, name = posixpath.split(source)
    return f"{directory}/__pycache__/{name[:-3]}.{cache_tag}.pyc"


def missing_pycs(runtime: Runtime, cache_tag: str) -> list[tuple[str, bytes]]:
    """The standard library's modules (path in the image, source) with no pyc in the base."""
    stdlib = runtime.host_path(runtime.stdlib)
    sources = []
    for directory, names, files in os.walk(stdlib):
        names[:] = sorted(name for name in names if name != "__pycache__")
        for name in sorted(files):
            host = os.path.join(directory, name)
            if not name.endswith(".py") or not os.path.isfile(host):  # a link out of the root
                continue
            path = runtime.stdlib + "/" + os.path.relpath(host, stdlib).replace(os.sep, "/")
            if pyc_path(path, cache_tag) not in runtime.stdlib_pycs:
                with open(host, "rb") as stream:
                    sources.append((path, stream.read()))
    return sources
