"""The registry, through its HTTP API (distribution spec): does a tag exist?

No Docker engine, no pull: one HEAD of the manifest, with the token or basic authentication the
registry asks for. Loopback registries (127.0.0.0/8, localhost, ::1) are spoken to over plain
HTTP, as the Docker engine does; every other one over HTTPS.
"""

from __future__ import annotations

import re

from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol

from poetry_ci_image.errors import RegistryError


if TYPE_CHECKING:
    from poetry_ci_image.credentials import Credentials
    from poetry_ci_image.reference import ImageReference


MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
TIMEOUT = 30
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class Registry(Protocol):
    def exists(self, reference: ImageReference, credentials: Credentials | None) -> bool: ...


def base_url(registry_host: str) -> str:
    host = registry_host.rsplit(":", 1)[0] if not registry_host.startswith("[") else registry_host
    loopback = host in {"localhost", "[::1]"} or host.startswith("127.")
    return f"{'http' if loopback else 'https'}://{registry_host}"


class HttpRegistry:
    """The real registry API, through requests (imported on first use)."""

    def exists(self, reference: ImageReference, credentials: Credentials | None) -> bool:
        import requests

        assert reference.tag is not None
        url = f"{base_url(reference.api_host)}/v2/{reference.path}/manifests/{reference.tag}"
        headers = {"Accept": MANIFEST_TYPES}
        where = reference.registry
        session = requests.Session()
        try:
            response = session.head(url, headers=headers, timeout=TIMEOUT)
            if response.status_code == 401:
                auth_header = self._authorize(
                    session, response.headers.get("WWW-Authenticate", ""), credentials, reference
                )
                response = session.head(
                    url, headers={**headers, "Authorization": auth_header}, timeout=TIMEOUT
                )
        except requests.RequestException as error:
            raise RegistryError(
                f"The registry {where} cannot be reached: {_reason(error)}",
                "Check the network, the registry host name and port, and any proxy settings.",
            ) from None
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        if response.status_code in (401, 403):
            raise RegistryError(
                f"The registry {where} refused access to {reference.repository} "
                f"(HTTP {response.status_code}) "
                + (
                    "with the credentials from " + credentials.origin
                    if credentials
                    else "without credentials"
                )
                + ".",
                f"Log in with `docker login {where}`"
                + (
                    " (or check CI_REGISTRY_USER/CI_REGISTRY_PASSWORD)"
                    if credentials is None
                    else ""
                )
                + ", and check that this account may read the repository.",
            )
        raise RegistryError(
            f"The registry {where} answered HTTP {response.status_code} for {reference}.",
            "Try again later, or check the registry's status.",
        )

    def _authorize(
        self,
        session: Any,
        challenge: str,
        credentials: Credentials | None,
        reference: ImageReference,
    ) -> str:
        import base64

        import requests

        scheme, _, params_text = challenge.partition(" ")
        if scheme.lower() == "basic":
            if credentials is None:
                raise RegistryError(
                    f"The registry {reference.registry} needs credentials, and none were found.",
                    f"Run `docker login {reference.registry}`"
                    " (GitLab CI: CI_REGISTRY_USER/CI_REGISTRY_PASSWORD are used on $CI_REGISTRY).",
                )
            token = base64.b64encode(
                f"{credentials.username}:{credentials.password}".encode()
            ).decode()
            return f"Basic {token}"
        if scheme.lower() != "bearer":
            raise RegistryError(
                f"The registry {reference.registry} asks for an unsupported authentication "
                f"scheme '{scheme}'."
            )
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        realm = params.pop("realm", "")
        if not realm:
            raise RegistryError(f"The registry {reference.registry} sent no token realm.")
        params.setdefault("scope", f"repository:{reference.path}:pull")
        auth = (credentials.username, credentials.password) if credentials else None
        try:
            response = session.get(realm, params=params, auth=auth, timeout=TIMEOUT)
        except requests.RequestException as error:
            raise RegistryError(
                f"The token service of {reference.registry} cannot be reached: {_reason(error)}"
            ) from None
        if response.status_code in (401, 403):
            raise RegistryError(
                f"The registry {reference.registry} refused the credentials"
                + (f" from {credentials.origin}" if credentials else "")
                + ".",
                f"Log in again with `docker login {reference.registry}`.",
            )
        if response.status_code != 200:
            raise RegistryError(
                f"The token service of {reference.registry} answered HTTP {response.status_code}."
            )
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"The token service of {reference.registry} returned no token.")
        return f"Bearer {token}"


def _reason(error: Exception) -> str:
    text = str(error)
    return text if len(text) < 200 else text[:200] + "..."
