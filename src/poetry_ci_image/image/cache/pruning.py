"""What no run used for `KEEP_DAYS` days is removed after a build, in every directory of the
cache: the records, the blobs, and what the builder's other parts keep there (the facts of each
base's files, the bases' interpreters, Poetry's wheels, where blobs were pushed). A run touches
what it uses (records and blobs as they are read; a directory of the others when it is used), so
a hit is never pruned under the run that relies on it."""

from __future__ import annotations

import contextlib
import shutil
import time

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


KEEP_DAYS = 30


def prune(directories: Iterable[Path], used: set[Path], now: float | None = None) -> list[Path]:
    """Remove each entry of `directories` (a file or a whole directory) that is not in `used`
    and was last touched more than KEEP_DAYS days before `now`; what was removed."""
    horizon = (time.time() if now is None else now) - KEEP_DAYS * 86400
    removed = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            with contextlib.suppress(OSError):
                if path in used or path.lstat().st_mtime >= horizon:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
    return removed
