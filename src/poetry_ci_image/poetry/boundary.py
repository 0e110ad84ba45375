"""Where the seam meets the unexpected: a Poetry that behaves as this plugin was not built for.

Each call into Poetry catches the exceptions it expects (a stale lock, an unreachable index, a
failed sdist build) and says what to do about them. Anything else that escapes Poetry's internals
(an `AttributeError` after an upgrade renamed something, a `TypeError` from a changed signature)
means this Poetry is not one the plugin supports: `poetry_boundary` turns it into
`UnsupportedPoetryError`, naming both versions and where to report it, instead of advice that does
not apply ("run `poetry lock`").
"""

from __future__ import annotations

import contextlib

from typing import TYPE_CHECKING

from poetry_ci_image import ISSUES_URL
from poetry_ci_image import __version__
from poetry_ci_image.errors import CiImageError
from poetry_ci_image.errors import UnsupportedPoetryError


if TYPE_CHECKING:
    from collections.abc import Iterator


def running_poetry_version() -> str:
    from poetry.__version__ import __version__ as version

    return str(version)


def unsupported(error: BaseException, doing: str) -> UnsupportedPoetryError:
    return UnsupportedPoetryError(
        f"Poetry {running_poetry_version()} failed unexpectedly while {doing}: "
        f"{type(error).__name__}: {error}",
        f"This Poetry version may not be supported by poetry-ci-image {__version__} "
        f"(tested with Poetry 2.0 to 2.5). Report it at {ISSUES_URL} with this message "
        "and the output of the command with -vvv.",
    )


@contextlib.contextmanager
def poetry_boundary(doing: str) -> Iterator[None]:
    """Let the plugin's own errors through; turn anything else from Poetry into one message."""
    try:
        yield
    except CiImageError:
        raise
    except Exception as error:
        raise unsupported(error, doing) from error
