"""A registry's HTTP API (the OCI distribution spec), as the plugin needs it: no Docker engine.

`RegistryClient` speaks to one registry: manifests (HEAD, GET, PUT), blobs (HEAD, GET, upload,
cross-repository mount). It answers the registry's authentication challenge (Basic, or Bearer
with a token for exactly the scopes a request needs, anonymous when there are no credentials, as
Docker Hub's token service wants) and retries what can succeed on a second try: a reset
connection, a timeout, a 5xx, a 429 (after its Retry-After), with bounded exponential back-off,
saying so to the run's reporter (a detail line, shown with -v). A persistent failure ends in one
`RegistryError`.

Loopback registries (127.0.0.0/8, localhost, ::1) are spoken to over plain HTTP, as the Docker
engine does; every other one over HTTPS (with the CA bundle requests uses: REQUESTS_CA_BUNDLE).

Why not a library: python-dxf (the most complete) refuses any authentication over plain HTTP,
so the loopback registries of CI services and tests could not log in; forces the token realm to
HTTPS; has no retries; and leaves an upload session open when a mount is refused. oras-py is
built around artifacts, not images. What the plugin needs is small, so it is written here on
`requests` (which Poetry already brings), with Docker's own credential resolution kept
(credentials.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading

from typing import TYPE_CHECKING
from urllib.parse import urljoin

import requests

from poetry_ci_image.errors import RegistryError
from poetry_ci_image.oci import MANIFEST_TYPES
from poetry_ci_image.oci import digest_of
from poetry_ci_image.plumbing.network_errors import is_permanent
from poetry_ci_image.plumbing.progress import SILENT
from poetry_ci_image.registry.auth import TIMEOUT
from poetry_ci_image.registry.auth import Authorization
from poetry_ci_image.registry.auth import scope_of
from poetry_ci_image.registry.refusal import detail
from poetry_ci_image.registry.refusal import refusal
from poetry_ci_image.registry.retry import RETRY_STATUSES
from poetry_ci_image.registry.retry import Hints
from poetry_ci_image.registry.retry import Retry
from poetry_ci_image.registry.retry import Retrying
from poetry_ci_image.registry.retry import RetryPolicy
from poetry_ci_image.registry.retry import reason
from poetry_ci_image.registry.retry import unreachable_for_good
from poetry_ci_image.registry.wire import Manifest
from poetry_ci_image.registry.wire import SizedBody
from poetry_ci_image.registry.wire import base_url


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Mapping

    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.registry.credentials import Credentials


class RegistryClient:
    """One registry's API, for the repositories of one command run.

    `name` is the registry as the user wrote it (for messages: `docker.io`); `api_host` is where
    its API answers (`registry-1.docker.io`, or a mirror). Thread-safe: blobs upload in parallel.
    """

    def __init__(
        self,
        name: str,
        credentials: Credentials | None,
        *,
        api_host: str | None = None,
        reporter: Reporter = SILENT,
        retry: RetryPolicy | None = None,
        cancelled: threading.Event | None = None,
        hints: Hints | None = None,
    ) -> None:
        self.name = name
        # For messages: the registry as the user named it, and where its API was asked.
        self.api_host = api_host or name
        self.label = name if self.api_host == name else f"{name} (at {self.api_host})"
        self.credentials = credentials
        self._base = base_url(self.api_host)
        self._retry = retry or RetryPolicy()
        self._cancelled = cancelled or threading.Event()
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._retrying = Retrying(
            self.label, self._retry, reporter, self._cancelled, hints or Hints()
        )
        self._authorization = Authorization(name, credentials, self._session, self._retrying)

    # Manifests ----------------------------------------------------------------------------------

    def _manifest(self, method: str, repository: str, reference: str) -> requests.Response:
        return self._request(
            method,
            f"/v2/{repository}/manifests/{reference}",
            repository,
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            allow={200, 404},
        )

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest the registry gives for `reference` (a tag or digest), or None if missing."""
        response = self._manifest("HEAD", repository, reference)
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return digest
        return self.get_manifest(repository, reference).digest  # registries that omit the header

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        response = self._manifest("GET", repository, reference)
        if response.status_code == 404:
            asked = "" if self.api_host == self.name else f" (asked {self.api_host})"
            raise RegistryError(
                f"{self.name}/{repository}:{reference} does not exist{asked}.",
                self._retrying.hints.missing,
            )
        body = response.content
        digest = digest_of(body)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(
                f"{self.name} sent a manifest for {repository}@{reference} whose digest is "
                f"{digest}.",
                "The registry or a proxy in between altered it; check them.",
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(body, media_type, digest)

    def put_manifest(
        self, repository: str, reference: str, body: bytes, media_type: str
    ) -> dict[str, str]:
        """Put a manifest; the answer's headers (`OCI-Subject` says the registry keeps the
        referrers of a manifest with a subject)."""
        response = self._request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            repository,
            push=True,
            headers={"Content-Type": media_type},
            data=lambda: body,
            allow={200, 201, 202},
        )
        return dict(response.headers)

    # Blobs --------------------------------------------------------------------------------------

    def has_blob(self, repository: str, digest: str) -> bool:
        response = self._request(
            "HEAD", f"/v2/{repository}/blobs/{digest}", repository, allow={200, 404}
        )
        return response.status_code == 200

    def get_blob(self, repository: str, digest: str) -> bytes:
        """A small blob (an image config), digest-checked."""
        return b"".join(self.stream_blob(repository, digest))

    def stream_blob(self, repository: str, digest: str) -> Iterator[bytes]:
        """A blob's bytes, in chunks; the digest is checked at the end (a RegistryError if not)."""
        response = self._request(
            "GET", f"/v2/{repository}/blobs/{digest}", repository, stream=True, allow={200}
        )
        algorithm, _, expected = digest.partition(":")
        hasher = hashlib.new(algorithm)
        try:
            for chunk in response.iter_content(chunk_size=1 << 20):
                if self._cancelled.is_set():
                    raise KeyboardInterrupt
                hasher.update(chunk)
                yield chunk
        except requests.RequestException as error:
            raise RegistryError(
                f"Reading {digest[:19]} from {self.name}/{repository} failed: {reason(error)}",
                "Try again; check the network if it persists.",
            ) from None
        finally:
            response.close()
        if hasher.hexdigest() != expected:
            raise RegistryError(
                f"{self.name}/{repository} sent a blob whose content is not {digest}.",
                "The registry or a proxy in between altered it; check them, then try again.",
            )

    def mount_blob(self, repository: str, digest: str, source: str) -> bool:
        """Link a blob from `source` (a repository of this registry); False if it was not (it
        is not there, or these credentials may not read it)."""
        try:
            response = self._request(
                "POST",
                f"/v2/{repository}/blobs/uploads/?mount={digest}&from={source}",
                repository,
                push=True,
                mount_from=source,
                allow={201, 202},
            )
        except RegistryError:  # refused (no read access to `source`): upload it instead
            return False
        if response.status_code == 201:
            return True
        # 202: the registry started an ordinary upload instead; close that session.
        location = response.headers.get("Location")
        if location:
            with contextlib.suppress(RegistryError, Retry):  # else it expires on its own
                self._request("DELETE", location, repository, push=True, allow=None, attempts=1)
        return False

    def upload_blob(
        self, repository: str, digest: str, size: int, chunks: Callable[[], Iterable[bytes]]
    ) -> None:
        """Upload a blob in one PUT; `chunks` gives its bytes again for each try."""
        for attempt in range(1, self._retry.attempts + 1):
            start = self._request(
                "POST", f"/v2/{repository}/blobs/uploads/", repository, push=True, allow={202}
            )
            location = start.headers.get("Location")
            if not location:
                raise RegistryError(
                    f"{self.name} started an upload to {repository} without saying where to send "
                    "it (no Location header).",
                    "Check the registry, or any proxy in front of it.",
                )
            separator = "&" if "?" in location else "?"
            try:
                self._request(
                    "PUT",
                    f"{location}{separator}digest={digest}",
                    repository,
                    push=True,
                    headers={"Content-Type": "application/octet-stream"},
                    data=lambda: SizedBody(chunks(), size, self._cancelled),
                    allow={201, 204},
                    attempts=1,  # a new upload session for every try
                )
                return
            except Retry as failure:
                if attempt == self._retry.attempts:
                    raise self._retrying.gave_up(
                        "PUT", f"/v2/{repository}/blobs/", failure
                    ) from None
                self._retrying.wait(attempt, failure, "PUT", f"/v2/{repository}/blobs/")

    # Requests -----------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        repository: str,
        *,
        push: bool = False,
        mount_from: str | None = None,
        headers: Mapping[str, str] | None = None,
        data: Callable[[], SizedBody | bytes] | None = None,
        stream: bool = False,
        allow: set[int] | None,
        attempts: int | None = None,
    ) -> requests.Response:
        """Send a request, authenticating and retrying; a RegistryError unless its status is in
        `allow` (None: any). With `attempts=1` a retryable failure raises `Retry` instead."""
        url = urljoin(self._base, path)
        scope = scope_of(repository, push, mount_from)
        tries = attempts or self._retry.attempts
        for attempt in range(1, tries + 1):
            try:
                response = self._send(method, url, scope, headers, data, stream)
                if response.status_code == 401:
                    self._authorization.answer(response, scope, repository)
                    response = self._send(method, url, scope, headers, data, stream)
                if response.status_code in RETRY_STATUSES:
                    response.close()
                    raise Retry(
                        f"HTTP {response.status_code}{detail(response)}",
                        response.headers.get("Retry-After"),
                    )
            except Retry as failure:
                if attempts == 1:
                    raise
                if attempt == tries:
                    raise self._retrying.gave_up(method, path, failure) from None
                self._retrying.wait(attempt, failure, method, path)
                continue
            if allow is not None and response.status_code not in allow:
                raise refusal(self.name, self.credentials, method, path, repository, response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        url: str,
        scope: str,
        headers: Mapping[str, str] | None,
        data: Callable[[], SizedBody | bytes] | None,
        stream: bool,
    ) -> requests.Response:
        if self._cancelled.is_set():
            raise KeyboardInterrupt
        sent = dict(headers or {})
        authorization = self._authorization.header(scope)
        if authorization:
            sent["Authorization"] = authorization
        try:
            return self._session.request(
                method,
                url,
                headers=sent,
                data=data() if data is not None else None,
                stream=stream,
                timeout=TIMEOUT,
                allow_redirects=method in {"GET", "HEAD"},
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            if is_permanent(error):  # no retry makes a certificate acceptable, or a name exist
                raise unreachable_for_good(
                    f"The registry {self.label}", error, self._retrying.hints.unreachable
                ) from None
            raise Retry(reason(error)) from None
        except requests.RequestException as error:
            raise RegistryError(
                f"A request to {self.name} failed: {reason(error)}",
                "Check the registry's address and the network.",
            ) from None
