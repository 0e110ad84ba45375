"""Answering a registry's authentication challenge: Basic, or Bearer tokens by scope.

A registry answers 401 with `WWW-Authenticate`: `Basic` (then every request sends the
credentials) or `Bearer realm=...,service=...` (then a token for exactly the scopes a request
needs is fetched from the realm, with the credentials if there are any: anonymous tokens are
how Docker Hub serves public images). Tokens are kept per scope for the run.
"""

from __future__ import annotations

import base64
import re
import threading

from typing import TYPE_CHECKING
from typing import Any

import requests

from poetry_ci_image.errors import RegistryError
from poetry_ci_image.plumbing.network_errors import is_permanent
from poetry_ci_image.registry.retry import RETRY_STATUSES
from poetry_ci_image.registry.retry import Retry
from poetry_ci_image.registry.retry import reason
from poetry_ci_image.registry.retry import unreachable
from poetry_ci_image.registry.retry import unreachable_for_good


if TYPE_CHECKING:
    from poetry_ci_image.registry.credentials import Credentials
    from poetry_ci_image.registry.retry import Retrying


TIMEOUT = (10, 120)  # seconds to connect, seconds between bytes
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def scope_of(repository: str, push: bool, mount_from: str | None = None) -> str:
    """The token scopes a request needs: pull (and push) here, pull where a mount comes from."""
    scope = f"repository:{repository}:{'pull,push' if push else 'pull'}"
    if mount_from:
        scope += f" repository:{mount_from}:pull"
    return scope


def credentials_origin(credentials: Credentials | None) -> str:
    if credentials is None:
        return "without credentials"
    return f"with the credentials from {credentials.origin}"


class Authorization:
    """The Authorization headers for one registry's requests."""

    def __init__(
        self,
        name: str,
        credentials: Credentials | None,
        session: requests.Session,
        retrying: Retrying,
    ) -> None:
        self.name = name
        self.credentials = credentials
        self._session = session
        self._retrying = retrying
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}  # scope -> "Bearer ..."
        self._basic: str | None = None  # the registry asked for Basic: every request sends it

    def header(self, scope: str) -> str | None:
        with self._lock:
            return self._basic or self._tokens.get(scope)

    def answer(self, response: requests.Response, scope: str, repository: str) -> None:
        """Answer the registry's challenge in `response`, for `scope`."""
        challenge = response.headers.get("WWW-Authenticate", "")
        response.close()
        kind, _, params_text = challenge.partition(" ")
        if kind.lower() == "basic":
            with self._lock:
                self._basic = "Basic " + base64.b64encode(self._pair().encode()).decode()
            return
        if kind.lower() != "bearer":
            raise RegistryError(
                f"The registry {self.name} asks for an unsupported authentication scheme '{kind}'.",
                "Report it, naming the registry's product.",
            )
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        realm = params.pop("realm", "")
        if not realm:
            raise RegistryError(
                f"The registry {self.name} asked for a token without saying where to get one.",
                "Check the registry's authentication settings.",
            )
        query = [("service", params["service"])] if "service" in params else []
        query += [("scope", item) for item in scope.split()]
        token = self._token(realm, query, scope, repository)
        with self._lock:
            self._tokens[scope] = f"Bearer {token}"

    def _pair(self) -> str:
        if self.credentials is None:
            raise RegistryError(
                f"The registry {self.name} needs credentials, and none were found.",
                f"Run `docker login {self.name}`"
                " (GitLab CI: CI_REGISTRY_USER/CI_REGISTRY_PASSWORD are used on $CI_REGISTRY).",
            )
        return f"{self.credentials.username}:{self.credentials.password}"

    def _token(self, realm: str, query: list[tuple[str, str]], scope: str, repository: str) -> str:
        response = self._fetch(realm, query)
        if response.status_code in (401, 403):
            raise RegistryError(
                f"The registry {self.name} refused access to {repository} "
                f"{credentials_origin(self.credentials)} (HTTP {response.status_code} from its "
                "token service).",
                f"Log in with `docker login {self.name}`, and check that this account may "
                + ("push to" if "push" in scope else "read")
                + " the repository.",
            )
        if response.status_code != 200:
            raise RegistryError(
                f"The token service of {self.name} answered HTTP {response.status_code}.",
                "Try again later, or check the registry's status.",
            )
        try:
            body: Any = response.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token or not isinstance(token, str):
            raise RegistryError(
                f"The token service of {self.name} answered without a token.",
                "Check the registry's authentication settings.",
            )
        return token

    def _fetch(self, realm: str, query: list[tuple[str, str]]) -> requests.Response:
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        attempts = self._retrying.policy.attempts
        service = f"The token service of {self.name}"
        for attempt in range(1, attempts + 1):
            try:
                response = self._session.get(realm, params=query, auth=auth, timeout=TIMEOUT)
                if response.status_code not in RETRY_STATUSES:
                    return response
                failure = Retry(f"HTTP {response.status_code}", response.headers.get("Retry-After"))
            except (requests.ConnectionError, requests.Timeout) as error:
                if is_permanent(error):  # no retry makes a certificate acceptable, a name exist
                    hint = self._retrying.hints.unreachable
                    raise unreachable_for_good(service, error, hint) from None
                failure = Retry(reason(error))
            except requests.RequestException as error:
                raise RegistryError(
                    f"{service} failed: {reason(error)}",
                    "Check the network and the registry's address.",
                ) from None
            if attempt == attempts:
                raise unreachable(service, failure.reason, self._retrying.hints.unreachable)
            self._retrying.wait(attempt, failure, "GET", "the token service")
        raise AssertionError("unreachable")  # pragma: no cover
