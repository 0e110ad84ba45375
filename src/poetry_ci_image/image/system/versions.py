"""Debian package versions, compared as dpkg compares them, and version relations.

A version is `[epoch:]upstream[-revision]`. dpkg compares the epochs as numbers, then the
upstream versions, then the revisions, each by the same rule: alternately a run of non-digits
(character by character: `~` before everything, even the end; then the end; then letters;
then the other characters) and a run of digits (as numbers). So `1.0~rc1` < `1.0` < `1.0a` <
`1.0+b1` < `1.0.1`, and `1:0.1` > `2.0`.
"""

from __future__ import annotations

import functools


RELATIONS = ("<<", "<=", "=", ">=", ">>")
_DIGITS = "0123456789"


@functools.total_ordering
class Version:
    """A Debian version, ordered as dpkg orders it (`str()` gives it back as written)."""

    __slots__ = ("epoch", "revision", "text", "upstream")

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        epoch, colon, rest = self.text.partition(":")
        if colon and epoch.isdigit():
            self.epoch = int(epoch)
        else:
            self.epoch, rest = 0, self.text
        upstream, dash, revision = rest.rpartition("-")
        self.upstream, self.revision = (upstream, revision) if dash else (rest, "")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and compare(self, other) == 0

    def __lt__(self, other: Version) -> bool:
        return compare(self, other) < 0

    __hash__ = None  # type: ignore[assignment]  # equal versions may be written differently

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


def compare(left: Version, right: Version) -> int:
    """Negative, zero or positive as `left` sorts before, with or after `right`."""
    if left.epoch != right.epoch:
        return left.epoch - right.epoch
    return _compare_part(left.upstream, right.upstream) or _compare_part(
        left.revision, right.revision
    )


def satisfies(version: Version, relation: str, wanted: Version) -> bool:
    """Whether `version` stands in `relation` (`<<`, `<=`, `=`, `>=`, `>>`) to `wanted`."""
    order = compare(version, wanted)
    return {
        "<<": order < 0,
        "<=": order <= 0,
        "=": order == 0,
        ">=": order >= 0,
        ">>": order > 0,
        "<": order <= 0,  # obsolete forms, which dpkg still reads as <= and >=
        ">": order >= 0,
    }[relation]


def _weight(character: str) -> int:
    """dpkg's weight of a character of a non-digit run ('' is the end of the run)."""
    if character == "~":
        return -1
    if not character:
        return 0
    if character.isascii() and character.isalpha():
        return ord(character)
    return ord(character) + 256


def _compare_part(left: str, right: str) -> int:
    """dpkg's verrevcmp."""
    i = j = 0
    while i < len(left) or j < len(right):
        while (i < len(left) and left[i] not in _DIGITS) or (
            j < len(right) and right[j] not in _DIGITS
        ):
            a = _weight(left[i]) if i < len(left) and left[i] not in _DIGITS else 0
            b = _weight(right[j]) if j < len(right) and right[j] not in _DIGITS else 0
            if a != b:
                return a - b
            i += 1
            j += 1
        while i < len(left) and left[i] == "0":
            i += 1
        while j < len(right) and right[j] == "0":
            j += 1
        first_difference = 0
        while i < len(left) and left[i] in _DIGITS and j < len(right) and right[j] in _DIGITS:
            if not first_difference:
                first_difference = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len(left) and left[i] in _DIGITS:
            return 1
        if j < len(right) and right[j] in _DIGITS:
            return -1
        if first_difference:
            return first_difference
    return 0
