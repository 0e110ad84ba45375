"""Files replaced in one rename: a reader sees the old file or the new one, never half of it."""

from __future__ import annotations

import os
import tempfile

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from pathlib import Path


def write_atomically(path: Path, content: str) -> None:
    """Replace `path` with `content` in one rename: readers see the old or the new file.

    An `OSError` is the caller's to turn into what it means (a tag-file that cannot be written
    is an error, a cache entry that cannot be written only a slower run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
