"""The example project's code: pick the newest of some version strings."""

from __future__ import annotations

from packaging.version import Version


def newest(versions: list[str]) -> str:
    """The highest version, compared as versions rather than as strings."""
    return max(versions, key=Version)
