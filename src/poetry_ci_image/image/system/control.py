"""Debian's control format (deb822): the paragraphs of a Packages index, a Release file, dpkg's
status file and a package's control file; and the relation fields (Depends, Provides, ...).

A paragraph is `Field: value` lines, a value continued on lines that start with a space or a
tab; paragraphs are separated by blank lines. Field names are case-insensitive: they are kept
here as the file writes them, and looked up through `field()`.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.image.system.versions import Version


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Mapping


class ControlError(ValueError):
    """A paragraph or a relation that does not parse; `str()` says where."""


def paragraphs(text: str) -> Iterator[dict[str, str]]:
    """The paragraphs of `text`, each a dict of its fields (continuation lines joined with
    newlines, as they are written, without the leading space)."""
    fields: dict[str, str] = {}
    name = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if fields:
                yield fields
            fields, name = {}, ""
            continue
        if line.startswith("#"):
            continue
        if line[0] in " \t":
            if not name:
                raise ControlError(f"line {number} continues no field")
            fields[name] += "\n" + line[1:]
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or " " in name:
            raise ControlError(f"line {number} is not `Field: value`: {line[:60]!r}")
        fields[name] = value.strip()
    if fields:
        yield fields


def field(fields: Mapping[str, str], name: str, default: str = "") -> str:
    """The value of field `name` in `fields`, whatever case the file wrote it in."""
    if name in fields:
        return fields[name]
    lowered = name.lower()
    for key, value in fields.items():
        if key.lower() == lowered:
            return value
    return default


def render(fields: Mapping[str, str]) -> str:
    """A paragraph as dpkg writes it: continuation lines indented by one space."""
    lines = []
    for name, value in fields.items():
        first, *rest = value.split("\n")
        lines.append(f"{name}: {first}".rstrip() if first else f"{name}:")
        lines += [f" {line}" for line in rest]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Relation:
    """One package named in a relation field, with its version restriction if any."""

    name: str
    relation: str | None = None  # "<<", "<=", "=", ">=", ">>"
    version: Version | None = None
    qualifier: str | None = None  # an architecture qualifier: "any", "native", "amd64"

    def __str__(self) -> str:
        name = f"{self.name}:{self.qualifier}" if self.qualifier else self.name
        return f"{name} ({self.relation} {self.version})" if self.relation else name


_RELATION = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9+.-]*)(?::(?P<qualifier>[a-z0-9-]+))?"
    r"\s*(?:\(\s*(?P<relation><<|<=|>=|>>|=|<|>)\s*(?P<version>[^)\s]+)\s*\))?"
    r"\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>\s*)*$"
)


def relations(value: str) -> list[tuple[Relation, ...]]:
    """A relation field (`a (>= 1) | b, c:any`): each comma-separated clause, its alternatives
    in order. Architecture restrictions and build profiles (source fields only) are dropped."""
    clauses: list[tuple[Relation, ...]] = []
    for clause in value.replace("\n", " ").split(","):
        if not clause.strip():
            continue
        alternatives = []
        for item in clause.split("|"):
            match = _RELATION.match(item.strip())
            if match is None:
                raise ControlError(f"{item.strip()!r} is not a package relation")
            relation = match["relation"]
            alternatives.append(
                Relation(
                    match["name"],
                    relation,
                    Version(match["version"]) if match["version"] else None,
                    match["qualifier"],
                )
            )
        clauses.append(tuple(alternatives))
    return clauses


def relation_of(text: str) -> Relation:
    """One relation (`libpq5`, `libpq5 (= 15.10-0+deb12u1)`, `libpq5=15.10-0+deb12u1`)."""
    name, equals, version = text.partition("=")
    if equals and "(" not in text:
        text = f"{name.strip()} (= {version.strip()})"
    found = relations(text)
    if len(found) != 1 or len(found[0]) != 1:
        raise ControlError(f"{text!r} names more than one package")
    return found[0][0]
