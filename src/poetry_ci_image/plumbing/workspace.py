"""One temporary directory per command run, removed when the command ends, however it ends.

Everything a run writes outside Poetry's cache (git checkouts, wheels built on the host, build
contexts, layers being written) goes here, so a persistent CI runner's disk does not fill up with
what a run left behind, also after an error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile

from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Iterator


PREFIX = "poetry-ci-image-"


@contextlib.contextmanager
def run_directory() -> Iterator[Path]:
    """A new directory under the system's temporary directory, gone when the block exits."""
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
