"""The one exception hierarchy of the plugin.

Every error a user can meet is a `CiImageError`: a message that says what is wrong and a hint that
says what to do. The command layer turns them into two lines on stderr and the error's exit
status (2; 130 for `Interrupted`); nothing else in the plugin prints them.
"""

from __future__ import annotations


class CiImageError(Exception):
    """An error the user can act on. `hint` says what to do about it."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n{self.hint}"


class ConfigError(CiImageError):
    """[tool.poetry-ci-image], an option or an environment variable has a bad value."""


class LockError(CiImageError):
    """poetry.lock is missing, stale or cannot say what would be installed."""


class PlanError(CiImageError):
    """A locked package has no distribution the target can install."""


class FetchError(CiImageError):
    """A distribution could not be downloaded, verified or built on the host."""


class EngineError(CiImageError):
    """The Docker engine is unreachable or refused a request."""


class BuildError(EngineError):
    """The image build failed. `log_tail` holds the last lines of the build log."""

    def __init__(
        self, message: str, hint: str | None = None, log_tail: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, hint)
        self.log_tail = log_tail


class RegistryError(CiImageError):
    """The registry is unreachable, refused the credentials or the push."""


class SystemPackageError(CiImageError):
    """A system package cannot be resolved, fetched, verified or installed into the image."""


class LibraryError(CiImageError):
    """A compiled file of the image needs a shared library the image lacks."""


class TagFileError(CiImageError):
    """The tag-file cannot be read or written."""


class Interrupted(CiImageError):
    """The user (Ctrl-C) or the CI (a cancelled job's SIGTERM) stopped the command."""

    exit_code = 130


class UnsupportedPoetryError(CiImageError):
    """Poetry's internals behave as this plugin does not expect: an unsupported Poetry."""
