"""One temporary directory per command run, removed when the command ends, however it ends.

Everything a run writes outside Poetry's cache (git checkouts, wheels built on the host, build
contexts, layers being written) goes here, so a persistent CI runner's disk does not fill up with
what a run left behind, also after an error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time

from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Iterator


PREFIX = "poetry-ci-image-"
REMOVE_TRIES = 20  # a tenth of a second apart


@contextlib.contextmanager
def run_directory() -> Iterator[Path]:
    """A new directory under the system's temporary directory, gone when the block exits."""
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        yield path
    finally:
        remove(path)


def remove(path: Path) -> None:
    """Remove `path`, trying again for up to two seconds: after Ctrl-C a worker thread may
    still be finishing a file in it (seen once on a loaded machine: the directory stayed,
    empty, its last file moved out after the removal had failed)."""
    for _ in range(REMOVE_TRIES):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.1)
