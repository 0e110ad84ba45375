"""An image's layer history: what each layer holds, as its config's history entry says.

The one reader of that format in the benchmarks. The plugin writes one entry per layer it adds
(src/poetry_ci_image/image/config.py), `created_by` "poetry-ci-image" and a comment that
`push --json` repeats for each layer:

    "sqlalchemy 2.1.9"                                     a package's own layer
    "pure:9: click-plugins 1.1.1.2, click-repl 0.4.1"     a layer the packages of a group share
    "Poetry 2.5.1 in /opt/poetry: compiled distributions"  any other layer: no package

and, for `system-packages` (src/poetry_ci_image/image/system_layers.py), Debian's packages and
versions, which are no Python package's:

    "system packages: libpq5 15.14-0+deb12u1, libssl3 3.0.17-1~deb12u2"   their files
    "dpkg's and apt's records of the system packages"                     the records of them

Docker's classic builder leaves the comment empty and says in `created_by` which instruction
made the layer (`/bin/sh -c #(nop) COPY file:<sha256> in ./`, `/bin/sh -c poetry install ...`).
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from packaging.version import Version


if TYPE_CHECKING:
    from collections.abc import Iterable


_PACKAGE = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) (?P<version>\S+)")
_CONTENT_HASH = re.compile(r"\b(dir|file|multi):[0-9a-f]{64}")
LABEL_LENGTH = 70


@dataclass(frozen=True)
class Layer:
    """A layer the plugin added, as `push --json` lists it."""

    digest: str
    size: int  # bytes, compressed, as the manifest lists it
    comment: str  # its history entry's

    @property
    def packages(self) -> dict[str, str]:
        """The packages the layer holds: canonical name -> version."""
        return packages_in(self.comment)


def packages_in(comment: str) -> dict[str, str]:
    """The packages a history comment names (canonical name -> version); none when the layer
    is not one of dependencies (Poetry's, the standard library's bytecode, the venvs' skeleton)."""
    group, separator, listed = comment.partition(": ")
    if not separator:
        listed = group
    elif " " in group:  # "Poetry 2.5.1 in /opt/poetry: ...": a sentence, not a group's key
        return {}
    found: dict[str, str] = {}
    for item in listed.split(", "):
        match = _PACKAGE.fullmatch(item)
        if match is None or not _is_version(match["version"]):
            return {}
        found[canonicalize_name(match["name"])] = match["version"]
    return found


_SYSTEM = "system packages: "
_SYSTEM_RECORDS = "dpkg's and apt's records of the system packages"


def debian_packages(comment: str) -> dict[str, str]:
    """The Debian packages a system layer's comment names (name -> version); none for any other
    layer."""
    if not comment.startswith(_SYSTEM):
        return {}
    items = (item.partition(" ") for item in comment.removeprefix(_SYSTEM).split(", "))
    return {name: version for name, _, version in items}


def system_layers(layers: Iterable[Layer]) -> list[Layer]:
    """The layers `system-packages` added: the packages' files and the layer of their records."""
    return [
        layer
        for layer in layers
        if layer.comment.startswith(_SYSTEM) or layer.comment == _SYSTEM_RECORDS
    ]


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def holding(layers: Iterable[Layer], package: str, version: str | None = None) -> Layer:
    """The layer that holds `package` (at `version`, when given)."""
    name = canonicalize_name(package)
    for layer in layers:
        held = layer.packages.get(name)
        if held is not None and version in (None, held):
            return layer
    wanted = f"{package} {version}" if version else package
    raise LookupError(f"no layer holds {wanted}")


def label(created_by: str, comment: str) -> str:
    """A history entry in a line: its comment, else the instruction that made the layer
    (without the shell and content hashes), cut to LABEL_LENGTH characters."""
    comment = " ".join(comment.split())
    command = " ".join(created_by.split()).split("/bin/sh -c ", 1)[-1]
    text = comment or command.removeprefix("#(nop) ").strip()
    text = _CONTENT_HASH.sub(r"\1", text)
    return text if len(text) <= LABEL_LENGTH else text[: LABEL_LENGTH - 3] + "..."
