"""When a registry request is worth another try, how long to wait, and how to say so.

A reset connection, a timeout, a 5xx or a 429 can succeed a moment later; anything else will
not. `RetryPolicy` bounds the tries (5) and the waits (doubling from 0.5 s, at most 8 s, a
`Retry-After` obeyed up to that); `Retrying` waits and tells the reporter (shown with -v), and
gives up early when the run is cancelled.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import RegistryError
from poetry_ci_image.plumbing.network_errors import connection_failure
from poetry_ci_image.plumbing.network_errors import connection_hint


if TYPE_CHECKING:
    import threading

    from poetry_ci_image.plumbing.progress import Reporter


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try again: `attempts` tries, back-off doubling from `first`."""

    attempts: int = 5
    first: float = 0.5
    longest: float = 8.0  # no single wait is longer (a Retry-After is capped to it)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """The wait before try `attempt + 1` (attempt counts from 1)."""
        if retry_after:
            try:
                return min(self.longest, max(0.0, float(retry_after)))
            except ValueError:
                pass  # an HTTP date: fall back to the back-off
        return min(self.longest, self.first * 2.0 ** (attempt - 1))

    def pause(
        self,
        attempt: int,
        failure: Retry,
        doing: str,
        reporter: Reporter,
        cancelled: threading.Event,
    ) -> None:
        """Say that `doing` failed and wait before the next try; a cancelled run stops here."""
        delay = self.delay(attempt, failure.retry_after)
        reporter.detail(
            f"{doing} failed ({failure.reason}); "
            f"trying again in {delay:.1f} s ({attempt + 1} of {self.attempts})"
        )
        if cancelled.wait(delay):
            raise KeyboardInterrupt


class Retry(Exception):
    """A failure worth another try, and why (`HTTP 503`, the connection error)."""

    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


UNREACHABLE_HINT = "Check the network, the registry host name and port, and any proxy settings."
MISSING_HINT = "Check the image name and tag (for a base image: `base` in [tool.poetry-ci-image])."


@dataclass(frozen=True)
class Hints:
    """What to do when a registry cannot be reached, or has no such image: the general advice,
    or Docker Hub's (a copy of the base elsewhere, a mirror)."""

    unreachable: str = UNREACHABLE_HINT
    missing: str = MISSING_HINT


@dataclass(frozen=True)
class Retrying:
    """Waits between tries for one registry, saying so; stops when the run is cancelled."""

    name: str
    policy: RetryPolicy
    reporter: Reporter
    cancelled: threading.Event
    hints: Hints = Hints()

    def wait(self, attempt: int, failure: Retry, method: str, what: str) -> None:
        doing = f"{self.name}: {method} {short_path(what)}"
        self.policy.pause(attempt, failure, doing, self.reporter, self.cancelled)

    def gave_up(self, method: str, path: str, failure: Retry) -> RegistryError:
        if failure.reason.startswith("HTTP "):
            return RegistryError(
                f"The registry {self.name} answered {failure.reason} for {method} "
                f"{short_path(path)}, {self.policy.attempts} times.",
                "Try again later, or check the registry's status.",
            )
        return unreachable(f"The registry {self.name}", failure.reason, self.hints.unreachable)


def unreachable(subject: str, reason: str, hint: str = UNREACHABLE_HINT) -> RegistryError:
    """`subject` ("The registry X", "The token service of X") cannot be reached, and why."""
    return RegistryError(f"{subject} cannot be reached: {reason}", hint)


def unreachable_for_good(
    subject: str, error: Exception, hint: str = UNREACHABLE_HINT
) -> RegistryError:
    """`subject` cannot be reached for a reason no retry changes (its TLS certificate was not
    accepted, its host name does not exist): said at once, with what to check."""
    return unreachable(subject, reason(error), connection_hint(error, hint))


def short_path(path: str) -> str:
    """A request path for messages: no host, no upload session ids, no query strings."""
    path = re.sub(r"^https?://[^/]+", "", path).split("?")[0]
    return re.sub(r"/uploads/[^/]+$", "/uploads/...", path)


def reason(error: Exception) -> str:
    """A failed request's cause for a message: the connection's, else the error's own words
    (no credentials, not too long)."""
    return connection_failure(error)
