"""Self-tests of ``tests.support.proxy``: a fault-injecting proxy in front of a real registry."""

from __future__ import annotations

import hashlib
import json
import re
import socket

from typing import TYPE_CHECKING

import pytest
import requests

from tests.support.proxy import Fault
from tests.support.proxy import RegistryProxy
from tests.support.proxy import SeenRequest
from tests.support.proxy import TokenRequest
from tests.support.registry import Registry
from tests.support.registry import registry_binary


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Mapping
    from typing import Literal


pytestmark = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed"
)

BLOB_SIZE = 5 * 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
TIMEOUT = 10


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One open registry for the module; each test pushes to repositories of its own."""
    with Registry(tmp_path_factory.mktemp("registry")) as started:
        yield started


@pytest.fixture
def proxy(registry: Registry) -> Iterator[RegistryProxy]:
    """A plain proxy in front of the registry."""
    with RegistryProxy(registry.host) as started:
        yield started


@pytest.fixture
def hub(registry: Registry) -> Iterator[RegistryProxy]:
    """A proxy playing Docker Hub's anonymous token flow in front of the open registry."""
    with RegistryProxy(registry.host, token_auth=True) as started:
        yield started


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A requests session that ignores proxy settings from the environment."""
    with requests.Session() as client:
        client.trust_env = False
        yield client


# Helpers ----------------------------------------------------------------------------------------


def payload(label: str, size: int) -> bytes:
    """``size`` bytes that differ by ``label``, so each test uploads a blob of its own."""
    seed = hashlib.sha256(label.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def digest_of(data: bytes) -> str:
    """The ``sha256:<hex>`` digest of ``data``."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def pieces(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    """``data`` in ``size``-byte pieces: requests sends a generator as a chunked body."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def with_digest(location: str, digest: str) -> str:
    """An upload ``location`` with the ``digest`` query parameter that completes it."""
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def start_upload(
    session: requests.Session,
    base: str,
    repository: str,
    headers: Mapping[str, str] | None = None,
) -> str:
    """Open a blob upload with ``POST /v2/<repository>/blobs/uploads/``; its ``Location``."""
    response = session.post(
        f"{base}/v2/{repository}/blobs/uploads/", headers=headers, timeout=TIMEOUT
    )
    assert response.status_code == 202, response.text
    return response.headers["Location"]


def push_blob(
    session: requests.Session,
    base: str,
    repository: str,
    data: bytes | Iterable[bytes],
    digest: str,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """Upload a blob monolithically (POST, then PUT ``?digest=``); the PUT's response."""
    location = start_upload(session, base, repository, headers)
    return session.put(
        with_digest(location, digest),
        data=data,
        headers={"Content-Type": "application/octet-stream", **(headers or {})},
        timeout=30,
    )


def push_image(
    session: requests.Session,
    base: str,
    repository: str,
    tag: str,
    headers: Mapping[str, str] | None = None,
) -> tuple[bytes, str]:
    """Push a config blob, a small layer and an OCI manifest tagged ``tag``: manifest, digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer = payload(f"layer {repository}", 4096)
    descriptors = []
    for media_type, blob in ((OCI_CONFIG, config), (OCI_LAYER, layer)):
        response = push_blob(session, base, repository, blob, digest_of(blob), headers)
        assert response.status_code == 201, response.text
        descriptors.append({"mediaType": media_type, "digest": digest_of(blob), "size": len(blob)})
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptors[0],
            "layers": descriptors[1:],
        }
    ).encode()
    response = session.put(
        f"{base}/v2/{repository}/manifests/{tag}",
        data=manifest,
        headers={"Content-Type": OCI_MANIFEST, **(headers or {})},
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == digest_of(manifest)
    return manifest, digest_of(manifest)


def fetch_token(
    session: requests.Session,
    hub: RegistryProxy,
    scopes: Iterable[str],
    auth: tuple[str, str] | None = None,
) -> str:
    """A token from the hub's realm for ``scopes``."""
    params = [("service", "registry.docker.io"), *(("scope", scope) for scope in scopes)]
    response = session.get(hub.token_realm, params=params, auth=auth, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def challenge(hub: RegistryProxy, scope: str | None = None) -> str:
    """The ``WWW-Authenticate`` header Docker Hub sends for ``scope`` (None: no scope parameter)."""
    header = f'Bearer realm="http://127.0.0.1:{hub.port}/token",service="registry.docker.io"'
    return header if scope is None else f'{header},scope="{scope}"'


# Plain forwarding -------------------------------------------------------------------------------


def test_lifecycle(registry: Registry, session: requests.Session) -> None:
    """The proxy answers on 127.0.0.1 while open, and its port and connections are closed after."""
    with RegistryProxy(registry.host) as proxy:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", proxy.host)
        assert proxy.url == f"http://{proxy.host}"
        response = session.get(f"{proxy.url}/v2/", timeout=TIMEOUT)
        assert response.status_code == 200
        assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
        assert proxy.requests == [SeenRequest("GET", "/v2/", 200, False)]
        port = proxy.port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/v2/", timeout=TIMEOUT)


@pytest.mark.parametrize(
    "chunked",
    [
        pytest.param(False, id="Content-Length body"),
        pytest.param(True, id="chunked body"),
    ],
)
def test_blob_upload_and_download(
    registry: Registry, proxy: RegistryProxy, session: requests.Session, chunked: bool
) -> None:
    """A 5 MB monolithic blob upload lands in the registry, and HEAD and GET return it."""
    repository = f"team/blob-{'chunked' if chunked else 'sized'}"
    data = payload(repository, BLOB_SIZE)
    digest = digest_of(data)

    put = push_blob(session, proxy.url, repository, pieces(data) if chunked else data, digest)
    assert put.status_code == 201, put.text
    assert put.request.headers.get("Transfer-Encoding") == ("chunked" if chunked else None)
    assert put.headers["Docker-Content-Digest"] == digest
    assert put.headers["Location"] == f"{proxy.url}/v2/{repository}/blobs/{digest}"

    blob_url = f"{proxy.url}/v2/{repository}/blobs/{digest}"
    head = session.head(blob_url, timeout=TIMEOUT)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(BLOB_SIZE)
    assert head.headers["Docker-Content-Digest"] == digest
    get = session.get(blob_url, timeout=30)
    assert get.status_code == 200
    assert get.content == data
    direct = session.head(f"{registry.url}/v2/{repository}/blobs/{digest}", timeout=TIMEOUT)
    assert direct.status_code == 200
    assert [(seen.method, seen.status, seen.faulted) for seen in proxy.requests] == [
        ("POST", 202, False),
        ("PUT", 201, False),
        ("HEAD", 200, False),
        ("GET", 200, False),
    ]


def test_manifest_put_and_get(proxy: RegistryProxy, session: requests.Session) -> None:
    """An OCI manifest pushed through the proxy comes back byte for byte, by tag and by digest."""
    manifest, digest = push_image(session, proxy.url, "team/manifest", "v1")

    by_tag = session.get(
        f"{proxy.url}/v2/team/manifest/manifests/v1",
        headers={"Accept": OCI_MANIFEST},
        timeout=TIMEOUT,
    )
    assert by_tag.status_code == 200
    assert by_tag.content == manifest
    assert by_tag.headers["Content-Type"] == OCI_MANIFEST
    assert by_tag.headers["Docker-Content-Digest"] == digest
    by_digest = session.head(
        f"{proxy.url}/v2/team/manifest/manifests/{digest}",
        headers={"Accept": OCI_MANIFEST},
        timeout=TIMEOUT,
    )
    assert by_digest.status_code == 200
    assert by_digest.headers["Content-Length"] == str(len(manifest))


def test_patch_upload_and_delete(
    registry: Registry, proxy: RegistryProxy, session: requests.Session
) -> None:
    """A chunked upload (POST, PATCH, PUT) and a blob DELETE go through the proxy."""
    data = payload("patched", 300_000)
    digest = digest_of(data)
    location = start_upload(session, proxy.url, "team/patched")
    patched = session.patch(
        location,
        data=pieces(data, 100_000),
        headers={"Content-Type": "application/octet-stream"},
        timeout=TIMEOUT,
    )
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{len(data) - 1}"
    assert patched.headers["Location"].startswith(f"{proxy.url}/v2/team/patched/blobs/uploads/")
    put = session.put(with_digest(patched.headers["Location"], digest), timeout=TIMEOUT)
    assert put.status_code == 201, put.text

    blob_url = f"{proxy.url}/v2/team/patched/blobs/{digest}"
    assert session.delete(blob_url, timeout=TIMEOUT).status_code == 202
    assert session.head(blob_url, timeout=TIMEOUT).status_code == 404
    direct = session.head(f"{registry.url}/v2/team/patched/blobs/{digest}", timeout=TIMEOUT)
    assert direct.status_code == 404


def test_location_rewriting(
    registry: Registry, proxy: RegistryProxy, session: requests.Session
) -> None:
    """The client's Host reaches the registry, and a Location naming the upstream is rewritten."""
    uploads = f"{proxy.url}/v2/team/located/blobs/uploads/"
    kept = session.post(uploads, timeout=TIMEOUT)
    assert kept.headers["Location"].startswith(f"{proxy.url}/v2/team/located/blobs/uploads/")
    upstream = session.post(uploads, headers={"Host": registry.host}, timeout=TIMEOUT)
    assert upstream.headers["Location"].startswith(f"{proxy.url}/v2/team/located/blobs/uploads/")
    other = session.post(uploads, headers={"Host": "mirror.example:5000"}, timeout=TIMEOUT)
    assert other.headers["Location"].startswith("http://mirror.example:5000/v2/team/located/")
    assert [seen.status for seen in proxy.requests] == [202, 202, 202]


def test_authorization_reaches_upstream(tmp_path_factory: pytest.TempPathFactory) -> None:
    """In plain mode the client's Authorization is forwarded; in Docker Hub mode it is not."""
    credentials = ("ci-user", "ci-pass")
    workdir = tmp_path_factory.mktemp("private")
    with (
        Registry(workdir, username="ci-user", password="ci-pass") as private,
        RegistryProxy(private.host) as proxy,
        RegistryProxy(private.host, token_auth=True) as hub,
        requests.Session() as session,
    ):
        session.trust_env = False
        assert session.get(f"{proxy.url}/v2/", timeout=TIMEOUT).status_code == 401
        assert session.get(f"{proxy.url}/v2/", auth=credentials, timeout=TIMEOUT).ok
        token = fetch_token(session, hub, [])
        response = session.get(f"{hub.url}/v2/", headers=bearer(token), timeout=TIMEOUT)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="test-registry"'


# Faults -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "retry_after"),
    [
        pytest.param(Fault("status", method="PUT", times=2), 500, None, id="status 500"),
        pytest.param(
            Fault("status", path=r"/blobs/uploads/", times=2, status=503),
            503,
            None,
            id="status 503",
        ),
        pytest.param(
            Fault("retry-after", method="put", path=r"digest=", times=2, retry_after=7),
            429,
            "7",
            id="retry-after",
        ),
    ],
)
def test_answering_faults(
    proxy: RegistryProxy,
    session: requests.Session,
    fault: Fault,
    status: int,
    retry_after: str | None,
) -> None:
    """A status or retry-after fault answers ``times`` blob PUTs unforwarded, then lets one pass."""
    data = payload(f"answered {status}", 1024 * 1024)
    digest = digest_of(data)
    location = start_upload(session, proxy.url, "team/answered")
    proxy.clear_requests()
    proxy.fail(fault)
    target = with_digest(location, digest)
    for _ in range(2):
        refused = session.put(target, data=data, timeout=TIMEOUT)
        assert refused.status_code == status
        assert refused.headers.get("Retry-After") == retry_after
        assert refused.json()["errors"][0]["message"] == "injected"
    if fault.kind == "status":
        assert refused.json() == {"errors": [{"code": "UNKNOWN", "message": "injected"}]}
    # The upload is still open upstream: the faulted PUTs never reached it.
    assert session.put(target, data=data, timeout=TIMEOUT).status_code == 201
    path = target.removeprefix(proxy.url)
    assert proxy.requests == [
        SeenRequest("PUT", path, status, True),
        SeenRequest("PUT", path, status, True),
        SeenRequest("PUT", path, 201, False),
    ]


@pytest.mark.parametrize(
    ("kind", "chunked"),
    [
        pytest.param("reset", False, id="reset"),
        pytest.param("drop-mid-body", False, id="drop-mid-body, Content-Length"),
        pytest.param("drop-mid-body", True, id="drop-mid-body, chunked"),
    ],
)
def test_connection_faults(
    proxy: RegistryProxy,
    session: requests.Session,
    kind: Literal["reset", "drop-mid-body"],
    chunked: bool,
) -> None:
    """A reset or drop-mid-body fault is a ConnectionError ``times`` times, then a PUT passes."""
    data = payload(f"{kind} {chunked}", 2 * 1024 * 1024)
    digest = digest_of(data)
    location = start_upload(session, proxy.url, "team/dropped")
    proxy.clear_requests()
    proxy.fail(Fault(kind, method="PUT", path=r"/blobs/uploads/", times=2))
    target = with_digest(location, digest)
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            session.put(target, data=pieces(data) if chunked else data, timeout=TIMEOUT)
    assert session.head(f"{proxy.url}/v2/", timeout=TIMEOUT).status_code == 200
    put = session.put(target, data=pieces(data) if chunked else data, timeout=TIMEOUT)
    assert put.status_code == 201, put.text
    path = target.removeprefix(proxy.url)
    assert proxy.requests == [
        SeenRequest("PUT", path, None, True),
        SeenRequest("PUT", path, None, True),
        SeenRequest("HEAD", "/v2/", 200, False),
        SeenRequest("PUT", path, 201, False),
    ]


def test_drop_mid_body_skips_bodiless_requests(
    proxy: RegistryProxy, session: requests.Session
) -> None:
    """A drop-mid-body rule lets requests without a body pass without using up its count."""
    proxy.fail(Fault("drop-mid-body", path=r"^/v2/"))
    assert session.get(f"{proxy.url}/v2/", timeout=TIMEOUT).status_code == 200
    with pytest.raises(requests.ConnectionError):
        session.post(f"{proxy.url}/v2/team/x/blobs/uploads/", data=b"x" * 1000, timeout=TIMEOUT)
    assert session.post(f"{proxy.url}/v2/team/x/blobs/uploads/", timeout=TIMEOUT).ok


def test_rules_count_separately(proxy: RegistryProxy, session: requests.Session) -> None:
    """Rules match by method and path, each counts its own ``times``, and clear_faults ends them."""
    proxy.fail(Fault("status", method="HEAD", path=r"^/v2/$", status=502))
    proxy.fail(Fault("status", path=r"^/v2/$", times=2, status=503))
    proxy.fail(Fault("status", path=r"/tags/list$", times=5, status=504))
    v2 = f"{proxy.url}/v2/"
    assert session.head(v2, timeout=TIMEOUT).status_code == 502
    assert session.head(v2, timeout=TIMEOUT).status_code == 503
    assert session.get(v2, timeout=TIMEOUT).status_code == 503
    assert session.get(v2, timeout=TIMEOUT).status_code == 200
    tags = f"{proxy.url}/v2/team/none/tags/list"
    assert session.get(tags, timeout=TIMEOUT).status_code == 504
    proxy.clear_faults()
    assert session.get(tags, timeout=TIMEOUT).status_code == 404
    assert [(seen.status, seen.faulted) for seen in proxy.requests] == [
        (502, True),
        (503, True),
        (503, True),
        (200, False),
        (504, True),
        (404, False),
    ]
    proxy.clear_requests()
    assert proxy.requests == []


def test_fault_validation(registry: Registry) -> None:
    """A fault of an unknown kind, with times below 1 or a bad regex is refused at once."""
    with pytest.raises(ValueError, match="unknown fault kind 'slow'"):
        Fault("slow")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times must be at least 1"):
        Fault("reset", times=0)
    with pytest.raises(re.error):
        Fault("reset", path="(")
    with pytest.raises(ValueError, match="token_credentials needs token_auth=True"):
        RegistryProxy(registry.host, token_credentials=("user", "pass"))


# Docker Hub mode --------------------------------------------------------------------------------


def test_hub_challenges(hub: RegistryProxy, session: requests.Session) -> None:
    """Without a valid token, /v2/ gets 401 with a Bearer challenge scoped by path and method."""
    cases = [
        ("GET", "/v2/", None),
        ("HEAD", "/v2/library/alpine/manifests/latest", "repository:library/alpine:pull"),
        ("GET", "/v2/team/app/blobs/sha256:0", "repository:team/app:pull"),
        ("GET", "/v2/team/app/tags/list", "repository:team/app:pull"),
        ("POST", "/v2/team/app/blobs/uploads/", "repository:team/app:pull,push"),
        ("PUT", "/v2/team/app/manifests/v1", "repository:team/app:pull,push"),
        ("DELETE", "/v2/team/app/manifests/v1", "repository:team/app:pull,push"),
    ]
    for method, path, scope in cases:
        response = session.request(method, f"{hub.url}{path}", timeout=TIMEOUT)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == challenge(hub, scope)
    forged = session.get(f"{hub.url}/v2/", headers=bearer("forged"), timeout=TIMEOUT)
    assert forged.status_code == 401
    assert forged.headers["WWW-Authenticate"] == challenge(hub)
    assert {seen.status for seen in hub.requests} == {401}
    assert hub.token_requests == []


def test_hub_token_flow(registry: Registry, hub: RegistryProxy, session: requests.Session) -> None:
    """An anonymous token fetched from the challenge's realm lets a pull through to the upstream."""
    manifest, digest = push_image(session, registry.url, "library/pulled", "latest")
    url = f"{hub.url}/v2/library/pulled/manifests/latest"
    refused = session.get(url, headers={"Accept": OCI_MANIFEST}, timeout=TIMEOUT)
    fields = dict(re.findall(r'(\w+)="([^"]*)"', refused.headers["WWW-Authenticate"]))
    assert fields == {
        "realm": hub.token_realm,
        "service": "registry.docker.io",
        "scope": "repository:library/pulled:pull",
    }

    answer = session.get(
        fields["realm"],
        params={"service": fields["service"], "scope": fields["scope"]},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert sorted(body) == ["access_token", "expires_in", "issued_at", "token"]
    assert body["access_token"] == body["token"]
    assert body["expires_in"] == 300
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["issued_at"])
    assert hub.token_requests == [
        TokenRequest("registry.docker.io", ["repository:library/pulled:pull"], False)
    ]

    headers = {"Accept": OCI_MANIFEST, **bearer(body["token"])}
    pulled = session.get(url, headers=headers, timeout=TIMEOUT)
    assert pulled.status_code == 200
    assert pulled.content == manifest
    assert pulled.headers["Docker-Content-Digest"] == digest
    assert session.get(f"{hub.url}/v2/", headers=headers, timeout=TIMEOUT).status_code == 200
    other = session.get(f"{hub.url}/v2/library/other/tags/list", headers=headers, timeout=TIMEOUT)
    assert other.status_code == 401
    assert [seen.status for seen in hub.requests] == [401, 200, 200, 200, 401]


def test_hub_push_needs_push_scope(hub: RegistryProxy, session: requests.Session) -> None:
    """A pull token is refused for a push with the push challenge; a pull,push token pushes."""
    pull = fetch_token(session, hub, ["repository:team/pushed:pull"])
    refused = session.post(
        f"{hub.url}/v2/team/pushed/blobs/uploads/", headers=bearer(pull), timeout=TIMEOUT
    )
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == challenge(hub, "repository:team/pushed:pull,push")

    push = fetch_token(session, hub, ["repository:team/pushed:pull,push"])
    data = payload("pushed", 100_000)
    digest = digest_of(data)
    put = push_blob(session, hub.url, "team/pushed", data, digest, bearer(push))
    assert put.status_code == 201, put.text
    blob_url = f"{hub.url}/v2/team/pushed/blobs/{digest}"
    assert session.head(blob_url, headers=bearer(pull), timeout=TIMEOUT).status_code == 200
    assert session.head(blob_url, headers=bearer(push), timeout=TIMEOUT).status_code == 200
    assert hub.token_requests == [
        TokenRequest("registry.docker.io", ["repository:team/pushed:pull"], False),
        TokenRequest("registry.docker.io", ["repository:team/pushed:pull,push"], False),
    ]


def test_hub_token_credentials(registry: Registry, session: requests.Session) -> None:
    """With token_credentials, /token answers 401 without that Basic auth and a token with it."""
    credentials = ("hub-user", "hub-pass")
    with RegistryProxy(registry.host, token_auth=True, token_credentials=credentials) as hub:
        params = {"service": "registry.docker.io", "scope": "repository:team/app:pull"}
        anonymous = session.get(hub.token_realm, params=params, timeout=TIMEOUT)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
        wrong = session.get(hub.token_realm, params=params, auth=("hub-user", "x"), timeout=TIMEOUT)
        assert wrong.status_code == 401
        token = fetch_token(session, hub, [params["scope"]], auth=credentials)
        response = session.get(f"{hub.url}/v2/", headers=bearer(token), timeout=TIMEOUT)
        assert response.status_code == 200
        assert [seen.had_basic_auth for seen in hub.token_requests] == [False, True, True]


def test_faults_in_hub_mode(hub: RegistryProxy, session: requests.Session) -> None:
    """Faults apply in Docker Hub mode too, to the token endpoint and to authorized requests."""
    hub.fail(Fault("retry-after", path=r"^/token\?"))
    params = {"service": "registry.docker.io"}
    limited = session.get(hub.token_realm, params=params, timeout=TIMEOUT)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    token = fetch_token(session, hub, [])
    hub.fail(Fault("reset", method="GET", path=r"^/v2/$"))
    with pytest.raises(requests.ConnectionError):
        session.get(f"{hub.url}/v2/", headers=bearer(token), timeout=TIMEOUT)
    assert session.get(f"{hub.url}/v2/", headers=bearer(token), timeout=TIMEOUT).status_code == 200
    assert [(seen.status, seen.faulted) for seen in hub.requests] == [
        (429, True),
        (200, False),
        (None, True),
        (200, False),
    ]
