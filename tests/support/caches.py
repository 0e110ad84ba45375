"""Poetry cache directories for tests: each test's (or module's) own, sharing with the session only
inputs that are named by their content, so that what a test asserts on never comes from another.

Shared (the same bytes whoever made them first, and slow to make):

    artifacts/               Poetry's downloads, by URL and hash
    ci-image/poetry/         Poetry's wheels for a target, by Poetry version and target
    ci-image/interpreters/   a base's CPython taken out of its layers, by base digest
    ci-image/bases/          the facts of a base's files, by base digest

Never shared (what tests assert on, or what changes during the session): the plugin's plans,
file lists, layers, facts and blobs, `places/` (where this "runner" pushed each blob), and
Poetry's cache of the indexes' pages (tests add files to the session's index).
"""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from pathlib import Path


SHARED_INPUTS = ("artifacts", "ci-image/poetry", "ci-image/interpreters", "ci-image/bases")


def cache_sharing_inputs(directory: Path, shared: Path) -> Path:
    """`directory` made a Poetry cache directory whose SHARED_INPUTS are links into `shared`."""
    for name in SHARED_INPUTS:
        (shared / name).mkdir(parents=True, exist_ok=True)
        link = directory / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(shared / name, target_is_directory=True)
    return directory
