"""What a registry's refusal becomes: one RegistryError that says what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.errors import RegistryError
from poetry_ci_image.registry.auth import credentials_origin
from poetry_ci_image.registry.retry import short_path


if TYPE_CHECKING:
    import requests

    from poetry_ci_image.registry.credentials import Credentials


WRITES = {"PUT", "POST", "PATCH", "DELETE"}


def refusal(
    registry: str,
    credentials: Credentials | None,
    method: str,
    path: str,
    repository: str,
    response: requests.Response,
) -> RegistryError:
    """The error for a final answer outside what the request allows (the response is closed)."""
    status = response.status_code
    words = detail(response)
    response.close()
    if status in (401, 403):
        return RegistryError(
            f"The registry {registry} refused access to {repository} (HTTP {status}) "
            f"{credentials_origin(credentials)}.",
            f"Log in with `docker login {registry}`"
            + (" (or check CI_REGISTRY_USER/CI_REGISTRY_PASSWORD)" if not credentials else "")
            + ", and check that this account may "
            + ("push to" if method in WRITES else "read")
            + " the repository.",
        )
    return RegistryError(
        f"The registry {registry} answered HTTP {status}{words} for {method} {short_path(path)}.",
        "Check the image name and the registry's status.",
    )


def detail(response: requests.Response) -> str:
    """The registry's own error words (`{"errors": [{"message": ...}]}`), if it gave any."""
    if response.request is not None and response.request.method == "HEAD":
        return ""
    try:
        body: Any = response.json()
        messages = [str(item.get("message", "")) for item in body.get("errors", [])]
    except (ValueError, AttributeError, TypeError):
        return ""
    text = "; ".join(message for message in messages if message)
    return f" ({text[:200]})" if text else ""
