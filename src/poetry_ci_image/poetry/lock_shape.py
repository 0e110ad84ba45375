"""Is poetry.lock shaped as Poetry reads it? What is missing, said before Poetry trips on it.

Poetry's locker indexes the lock's tables directly (`info["name"]`, `info["python-versions"]`):
a hand-edited or badly merged lock that parses as TOML but lacks a key fails inside Poetry
with a bare `KeyError: 'name'`. `lock_problem` checks the keys and types Poetry relies on and
names the first entry that lacks one, so the message can say "poetry.lock is damaged" and what
to do, and a `KeyError` from Poetry itself still means a Poetry this plugin does not know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:
    from collections.abc import Mapping


# key -> (the type Poetry needs, how a message says it)
_PACKAGE_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "name": (str, "a string"),
    "version": (str, "a string"),
    "python-versions": (str, "a string"),
    "optional": (bool, "true or false"),
}
_OPTIONAL_PACKAGE_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "files": (list, "a list of files"),
    "dependencies": (dict, "a table"),
    "extras": (dict, "a table"),
    "source": (dict, "a table"),
    "groups": (list, "a list of group names"),
    "markers": ((str, dict), "a marker string or a table"),
}


def lock_problem(data: Mapping[str, Any]) -> str | None:
    """What makes the parsed poetry.lock `data` unreadable for Poetry, or None."""
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return "it has no [metadata] table"
    for key in ("lock-version", "content-hash"):
        if key not in metadata:
            return f"[metadata] has no {key}"
        if not isinstance(metadata[key], str):
            return f"[metadata] has a {key} that is not a string"
    if "package" not in data:  # Poetry writes `package = []` for a lock without packages
        return "it has no [[package]] entries, not even an empty list"
    packages = data["package"]
    if not isinstance(packages, list):
        return "package is not a list of [[package]] tables"
    for number, info in enumerate(packages, start=1):
        problem = _package_problem(
            info, metadata, groups_required=_version(metadata["lock-version"]) >= (2, 1)
        )
        if problem:
            name = info.get("name") if isinstance(info, dict) else None
            which = (
                f"[[package]] {number} ({name})"
                if isinstance(name, str)
                else (f"[[package]] {number}")
            )
            return f"{which} {problem}"
    return None


def _version(text: str) -> tuple[int, ...]:
    """`2.1` as (2, 1); what is not numbers as (0,) (Poetry says what it makes of it)."""
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return (0,)


def _package_problem(
    info: object, metadata: Mapping[str, Any], *, groups_required: bool
) -> str | None:
    if not isinstance(info, dict):
        return "is not a table"
    required = dict(_PACKAGE_KEYS)
    if groups_required:
        required["groups"] = _OPTIONAL_PACKAGE_KEYS["groups"]
    for key, (kind, words) in required.items():
        if key not in info:
            return f"has no {key}"
        if not isinstance(info[key], kind):
            return f"has a {key} that is not {words}"
    for key, (kind, words) in _OPTIONAL_PACKAGE_KEYS.items():
        if key in info and not isinstance(info[key], kind):
            return f"has a {key} that is not {words}"
    if "files" not in info and not _files_elsewhere(info, metadata):
        return "has no files (neither its own nor in [metadata.files])"
    for file in info.get("files", []):
        if not (isinstance(file, dict) and isinstance(file.get("file"), str)):
            return "has a files entry without a file name"
        if not isinstance(file.get("hash"), str):
            return f"has no hash for {file['file']}"
    return None


def _files_elsewhere(info: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """Where locks before lock-version 2.0 keep a package's files, or none are needed."""
    source = info.get("source")
    if isinstance(source, dict) and source.get("type") in {"git", "directory", "url"}:
        return True
    name = info["name"]
    for table in ("files", "hashes"):  # [metadata.files] (1.1), [metadata.hashes] (1.0)
        found = metadata.get(table)
        if isinstance(found, dict) and name in found:
            return True
    return False
