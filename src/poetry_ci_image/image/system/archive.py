"""The Debian archives, over HTTP(S): release files, indexes and packages, each file checked
against the hash a signed release file (or an index it vouches for) names before it is used.

Files with a known hash are kept in the build cache by that hash (`apt/<sha256>`), so a runner
that keeps the cache downloads an index again only when the archive published a new one, and a
package once. A failed request that can succeed on a second try (a reset connection, a timeout,
a 5xx, a 429) is tried again with bounded back-off (registry/retry.py's policy); credentials
(an archive URL's user and password, from the environment, or `~/.netrc`) are never printed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os

from typing import TYPE_CHECKING

import requests

from poetry_ci_image.errors import SystemPackageError
from poetry_ci_image.plumbing.network_errors import connection_failure
from poetry_ci_image.plumbing.network_errors import connection_hint
from poetry_ci_image.plumbing.network_errors import is_permanent
from poetry_ci_image.plumbing.urls import strip_credentials
from poetry_ci_image.registry.retry import RETRY_STATUSES
from poetry_ci_image.registry.retry import Retry
from poetry_ci_image.registry.retry import RetryPolicy


if TYPE_CHECKING:
    import threading

    from pathlib import Path

    from poetry_ci_image.plumbing.progress import Reporter


TIMEOUT = (10, 120)  # seconds to connect, seconds between bytes
CHUNK = 1 << 20
UNREACHABLE_HINT = (
    "Check the network and the archive's address (the base's apt sources, or system-sources in "
    "[tool.poetry-ci-image]); a private mirror's credentials go in ~/.netrc or the URL of "
    "POETRY_CI_IMAGE_SYSTEM_SOURCES."
)


class Archive:
    """HTTP access to the archives of one run, with a cache of files by their sha256."""

    def __init__(
        self,
        cache: Path,
        reporter: Reporter,
        cancelled: threading.Event,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.cache = cache
        self._reporter = reporter
        self._cancelled = cancelled
        self._policy = policy or RetryPolicy()
        self._session = requests.Session()

    def get(self, url: str, what: str) -> bytes | None:
        """The bytes at `url` (small files: release files), or None when the archive has none
        there (404); a SystemPackageError when it cannot be reached."""
        response = self._request(url, what, stream=False)
        if response is None:
            return None
        return response.content

    def file(self, url: str, sha256: str, size: int | None, what: str) -> Path | None:
        """The file at `url`, checked against `sha256` (and `size`), from the cache or
        downloaded into it; None when the archive has none there (404)."""
        kept = self.cache / sha256
        if kept.is_file() and (size is None or kept.stat().st_size == size):
            with contextlib.suppress(OSError):
                os.utime(kept)
            return kept
        for attempt in range(1, self._policy.attempts + 1):
            response = self._request(url, what, stream=True)
            if response is None:
                return None
            try:
                return self._keep(response, sha256, size, what, url)
            except Retry as failure:
                if attempt == self._policy.attempts:
                    raise self._gave_up(url, what, failure) from None
                self._wait(attempt, failure, what)
            finally:
                response.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _keep(
        self, response: requests.Response, sha256: str, size: int | None, what: str, url: str
    ) -> Path:
        self.cache.mkdir(parents=True, exist_ok=True)
        partial = self.cache / f".{sha256}.{os.getpid()}.partial"
        hasher = hashlib.sha256()
        written = 0
        try:
            with partial.open("wb") as stream:
                try:
                    for chunk in response.iter_content(chunk_size=CHUNK):
                        if self._cancelled.is_set():
                            raise KeyboardInterrupt
                        hasher.update(chunk)
                        stream.write(chunk)
                        written += len(chunk)
                except requests.RequestException as error:
                    raise Retry(connection_failure(error)) from None
            if hasher.hexdigest() != sha256 or (size is not None and written != size):
                raise SystemPackageError(
                    f"{what} from {strip_credentials(url)} is not the file the archive's signed "
                    f"index names (sha256 {hasher.hexdigest()[:16]}..., {written} bytes; "
                    f"expected {sha256[:16]}..., {size} bytes). Nothing was pushed.",
                    "The archive, a mirror or a proxy in between altered it, or the archive "
                    "changed while it was read: try again, and check the mirror if it persists.",
                )
            final = self.cache / sha256
            os.replace(partial, final)
            return final
        finally:
            partial.unlink(missing_ok=True)

    def _request(self, url: str, what: str, *, stream: bool) -> requests.Response | None:
        for attempt in range(1, self._policy.attempts + 1):
            if self._cancelled.is_set():
                raise KeyboardInterrupt
            try:
                response = self._session.get(url, stream=stream, timeout=TIMEOUT)
                if response.status_code in RETRY_STATUSES:
                    response.close()
                    raise Retry(f"HTTP {response.status_code}", response.headers.get("Retry-After"))
            except (requests.ConnectionError, requests.Timeout) as error:
                if is_permanent(error):
                    raise self._unreachable(url, what, error) from None
                failure = Retry(connection_failure(error))
            except Retry as retry:
                failure = retry
            else:
                if response.status_code == 404:
                    response.close()
                    return None
                if response.status_code in (401, 403):
                    response.close()
                    raise SystemPackageError(
                        f"The archive refused {what} ({strip_credentials(url)}): HTTP "
                        f"{response.status_code}.",
                        "Give the archive's credentials in ~/.netrc (machine, login, password), "
                        "or in the URL of POETRY_CI_IMAGE_SYSTEM_SOURCES.",
                    )
                if response.status_code != 200:
                    response.close()
                    raise SystemPackageError(
                        f"The archive answered HTTP {response.status_code} for {what} "
                        f"({strip_credentials(url)}).",
                        UNREACHABLE_HINT,
                    )
                return response
            if attempt == self._policy.attempts:
                raise self._gave_up(url, what, failure)
            self._wait(attempt, failure, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, failure: Retry, what: str) -> None:
        self._policy.pause(attempt, failure, f"Reading {what}", self._reporter, self._cancelled)

    def _gave_up(self, url: str, what: str, failure: Retry) -> SystemPackageError:
        return SystemPackageError(
            f"The archive cannot give {what} ({strip_credentials(url)}): {failure.reason}, "
            f"{self._policy.attempts} times. Nothing was pushed.",
            UNREACHABLE_HINT,
        )

    def _unreachable(self, url: str, what: str, error: Exception) -> SystemPackageError:
        return SystemPackageError(
            f"The archive cannot give {what} ({strip_credentials(url)}): "
            f"{connection_failure(error)}. Nothing was pushed.",
            connection_hint(error, UNREACHABLE_HINT),
        )
