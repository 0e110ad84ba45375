"""Multi-platform base images in a loopback registry, pushed over the distribution HTTP API.

Debian's engine cannot import an image for another platform, so a base image that lists
linux/amd64 and linux/arm64 reaches the registry here, with the standard library only (and
none of the plugin's code, which is what gets tested against it): each root file system
tarball made by ``.ci/engine`` becomes one gzip layer, then come an OCI image config and an
OCI image manifest per platform and, for more than one platform, an OCI image index under the
tag. The layers are deterministic and cached next to their tarballs, keyed by the tarball's
size and mtime, so a test session does not recompress 100+ MB each time.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request

from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping
    from email.message import Message

    from _typeshed import ReadableBuffer


DEFAULT_STATE = Path("/var/tmp/poetry-ci-image")  # $STATE of .ci/engine
# (platform, libc) -> the root file system tarball .ci/engine makes, and what made it
ROOTFS_TARBALLS = {
    ("linux/amd64", "glibc"): "bookworm-python.tar",
    ("linux/arm64", "glibc"): "bookworm-python-arm64.tar",
    ("linux/amd64", "musl"): "musl-python.tar",
}
_MADE_BY = {"musl-python.tar": "CPython 3.11.2 built with musl-gcc"}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"

LAYER_MTIME = 0  # every member of a layer has this mtime
_LAYER_FORMAT = 1  # part of the cache key: bump it when the way layers are made changes
_RETRIES = 5

# platform -> (architecture, variant) in OCI configs and indexes
_PLATFORMS: dict[str, tuple[str, str | None]] = {
    "linux/amd64": ("amd64", None),
    "linux/arm64": ("arm64", "v8"),
}

# Never go through a proxy from the environment to reach loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RegistryError(RuntimeError):
    """The registry answered a request with something other than what the API promises."""


@dataclass(frozen=True)
class Layer:
    """A root file system as one gzip layer file, with its digest and its diff_id."""

    path: Path
    digest: str  # sha256 of the compressed file
    diff_id: str  # sha256 of the uncompressed tar stream
    size: int


@dataclass(frozen=True)
class PlatformImage:
    """The image of one platform in a pushed base: its manifest, config and only layer."""

    platform: str
    manifest_digest: str
    config_digest: str
    layer_digest: str
    diff_id: str


@dataclass(frozen=True)
class BaseImage:
    """A pushed base image: ``host/repository:tag``, the digest the tag points at, and per
    platform (``linux/amd64``, ``linux/arm64``) what it is made of."""

    reference: str
    digest: str
    platforms: Mapping[str, PlatformImage]
    # Blobs this push uploaded (the others were in the registry already); not part of equality.
    uploaded: tuple[str, ...] = field(default=(), compare=False)

    @property
    def pinned(self) -> str:
        """``host/repository@digest``: the base by digest."""
        return f"{self.reference.rsplit(':', 1)[0]}@{self.digest}"


def state_dir() -> Path:
    """The directory ``.ci/engine`` keeps its state in (``$CI_IMAGE_STATE`` or its default)."""
    return Path(os.environ.get("CI_IMAGE_STATE") or DEFAULT_STATE)


def rootfs_tarball(platform: str, libc: str = "glibc") -> Path:
    """The root file system tarball ``.ci/engine`` made for ``platform``: Debian bookworm's
    (glibc), or for ``libc="musl"`` a musl system with CPython built from source."""
    try:
        name = ROOTFS_TARBALLS[platform, libc]
    except KeyError:
        known = ", ".join(f"{p} {c}" for p, c in ROOTFS_TARBALLS)
        raise ValueError(f"no root file system for {platform} {libc}; known: {known}") from None
    tarball = state_dir() / name
    if not tarball.is_file() or tarball.stat().st_size == 0:
        raise FileNotFoundError(
            f"the {platform} root file system {tarball} is missing; run .ci/setup"
            " (its .ci/engine makes it)"
        )
    return tarball


def rootfs_layer(tarball: Path) -> Layer:
    """``tarball`` as a deterministic gzip layer, made once and cached in ``layers/`` beside it.

    The entries are re-tarred sorted by name, without a leading ``./``, keeping each one's
    mode, owner, type and link target; every mtime is ``LAYER_MTIME``, the owners' names are
    dropped and the gzip header has mtime 0 and no file name. Hard links point at the first
    name of their file in that order.
    """
    source = tarball.stat()
    key = {"format": _LAYER_FORMAT, "size": source.st_size, "mtime_ns": source.st_mtime_ns}
    cache = tarball.parent / "layers"
    stem = tarball.name.removesuffix(".tar")
    path = cache / f"{stem}.tar.gz"
    record = cache / f"{stem}.json"
    cached = _cached_layer(path, record, key)
    if cached is not None:
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        digest, diff_id = _write_layer(tarball, part)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    layer = Layer(path=path, digest=digest, diff_id=diff_id, size=path.stat().st_size)
    record_part = record.with_name(f"{record.name}.{os.getpid()}.part")
    record_part.write_text(
        json.dumps({"key": key, "digest": digest, "diff_id": diff_id, "size": layer.size}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    os.replace(record_part, record)
    return layer


def push_base_image(
    host: str,
    repository: str,
    tag: str,
    platforms: Mapping[str, Path],
    *,
    auth: tuple[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> BaseImage:
    """Push a base image made of one root file system tarball per platform to ``host``.

    ``platforms`` maps ``linux/amd64`` and/or ``linux/arm64`` to a tarball (see
    ``rootfs_tarball``). With more than one platform, ``tag`` names an OCI image index of
    their manifests; with one, it names that manifest. Blobs the registry has are not uploaded
    again. ``env`` adds to (or overrides) the images' ``PATH``.
    """
    if not platforms:
        raise ValueError("give at least one platform")
    for platform in platforms:
        if platform not in _PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}; known: {_known()}")
    client = _Client(host, repository, auth)
    variables = {"PATH": DEFAULT_PATH, **(env or {})}
    uploaded: list[str] = []
    images: dict[str, PlatformImage] = {}
    manifests: list[bytes] = []
    for platform, tarball in platforms.items():
        image, manifest = _push_platform(client, platform, Path(tarball), variables, uploaded)
        images[platform] = image
        manifests.append(manifest)
    if len(manifests) == 1:
        client.put_manifest(tag, manifests[0], MANIFEST_TYPE)
        top = manifests[0]
    else:
        descriptors = []
        for image, manifest in zip(images.values(), manifests, strict=True):
            client.put_manifest(image.manifest_digest, manifest, MANIFEST_TYPE)
            descriptors.append(
                {
                    "mediaType": MANIFEST_TYPE,
                    "digest": image.manifest_digest,
                    "size": len(manifest),
                    "platform": _platform_fields(image.platform),
                }
            )
        top = _canonical({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": descriptors})
        client.put_manifest(tag, top, INDEX_TYPE)
    return BaseImage(
        reference=f"{host}/{repository}:{tag}",
        digest=_sha256(top),
        platforms=images,
        uploaded=tuple(uploaded),
    )


def _push_platform(
    client: _Client,
    platform: str,
    tarball: Path,
    variables: Mapping[str, str],
    uploaded: list[str],
) -> tuple[PlatformImage, bytes]:
    """Push the layer and the config of one platform; its image and (unpushed) manifest."""
    layer = rootfs_layer(tarball)
    if client.push_blob(layer.digest, layer.path):
        uploaded.append(layer.digest)
    config = _canonical(
        {
            **_platform_fields(platform),
            "config": {
                "Env": [f"{name}={value}" for name, value in variables.items()],
                "Cmd": ["python3"],
            },
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            "history": [
                {
                    "created_by": f"{_MADE_BY.get(tarball.name, 'debootstrap bookworm')}"
                    f" ({tarball.name})",
                    "comment": "tests/support/base_images.py",
                }
            ],
        }
    )
    config_digest = _sha256(config)
    if client.push_blob(config_digest, config):
        uploaded.append(config_digest)
    manifest = _canonical(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": LAYER_TYPE, "digest": layer.digest, "size": layer.size}],
        }
    )
    image = PlatformImage(
        platform=platform,
        manifest_digest=_sha256(manifest),
        config_digest=config_digest,
        layer_digest=layer.digest,
        diff_id=layer.diff_id,
    )
    return image, manifest


def _platform_fields(platform: str) -> dict[str, str]:
    """``architecture``, ``os`` and (for arm64) ``variant``, as configs and indexes give them."""
    architecture, variant = _PLATFORMS[platform]
    fields = {"architecture": architecture, "os": "linux"}
    if variant is not None:
        fields["variant"] = variant
    return fields


def _known() -> str:
    return ", ".join(_PLATFORMS)


def _canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


# --- layers -------------------------------------------------------------------------------


def _cached_layer(path: Path, record: Path, key: dict[str, int]) -> Layer | None:
    try:
        recorded = json.loads(record.read_text(encoding="utf-8"))
        if recorded["key"] != key or path.stat().st_size != recorded["size"]:
            return None
        return Layer(
            path=path,
            digest=str(recorded["digest"]),
            diff_id=str(recorded["diff_id"]),
            size=int(recorded["size"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes what goes through it on its way to ``target``."""

    def __init__(self, target: io.BufferedIOBase) -> None:
        super().__init__()
        self.target = target
        self.hash = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        self.hash.update(data)
        return self.target.write(data)

    @property
    def digest(self) -> str:
        return f"sha256:{self.hash.hexdigest()}"


def _normal(name: str) -> str:
    """A member name without ``./``, leading or trailing slashes; ``""`` for the root."""
    while name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    return "" if name == "." else name


def _write_layer(tarball: Path, destination: Path) -> tuple[str, str]:
    """Write ``tarball`` re-tarred and gzipped to ``destination``; return (digest, diff_id)."""
    with tarfile.open(tarball, "r:") as source, destination.open("wb") as raw:
        members = {_normal(member.name): member for member in source.getmembers()}
        members.pop("", None)  # the root directory itself
        holders = _hard_link_holders(members)
        compressed = _HashingWriter(raw)
        with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as zipped:
            uncompressed = _HashingWriter(zipped)
            with tarfile.open(
                fileobj=uncompressed,
                mode="w|",
                format=tarfile.PAX_FORMAT,
            ) as layer:
                for name in sorted(members):
                    _add_member(source, layer, members, holders, name)
        return compressed.digest, uncompressed.digest


def _hard_link_holders(members: Mapping[str, tarfile.TarInfo]) -> dict[str, str]:
    """For each name in a group of hard links, the group's first name (which holds the data)."""
    groups: dict[str, set[str]] = {}
    for name, member in members.items():
        if member.islnk():
            target = _link_target(members, name)
            groups.setdefault(target, {target}).add(name)
    return {name: min(group) for group in groups.values() for name in group}


def _link_target(members: Mapping[str, tarfile.TarInfo], name: str) -> str:
    """The name of the regular file a hard link ``name`` (finally) points at."""
    seen = {name}
    member = members[name]
    while member.islnk():
        target = _normal(member.linkname)
        if target in seen or target not in members:
            raise ValueError(f"hard link {name} points at a missing member {member.linkname}")
        seen.add(target)
        name, member = target, members[target]
    return name


def _add_member(
    source: tarfile.TarFile,
    layer: tarfile.TarFile,
    members: Mapping[str, tarfile.TarInfo],
    holders: Mapping[str, str],
    name: str,
) -> None:
    member = members[name]
    if name in holders:
        member = members[_link_target(members, name) if member.islnk() else name]
    info = tarfile.TarInfo(name)
    info.mode = member.mode
    info.uid = member.uid
    info.gid = member.gid
    info.uname = ""
    info.gname = ""
    info.mtime = LAYER_MTIME
    info.type = member.type
    info.linkname = member.linkname
    info.devmajor = member.devmajor
    info.devminor = member.devminor
    holder = holders.get(name)
    if holder is not None and holder != name:
        info.type = tarfile.LNKTYPE
        info.linkname = holder
        layer.addfile(info)
        return
    if member.isreg():
        info.type = tarfile.REGTYPE
        info.size = member.size
        layer.addfile(info, source.extractfile(member))
        return
    layer.addfile(info)


# --- registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Message
    body: bytes


class _Client:
    """Requests to one repository of a registry, with basic auth if given."""

    def __init__(self, host: str, repository: str, auth: tuple[str, str] | None) -> None:
        self.base = f"http://{host}/v2/{repository}/"
        self.auth = auth

    def push_blob(self, digest: str, data: bytes | Path) -> bool:
        """Upload one blob unless the registry has it; whether it was uploaded."""
        if self.request("HEAD", f"blobs/{digest}", expect=(200, 404)).status == 200:
            return False
        started = self.request("POST", "blobs/uploads/", expect=(202,))
        location = started.headers.get("Location")
        if not location:
            raise RegistryError(f"POST {self.base}blobs/uploads/ gave no Location")
        url = urllib.parse.urljoin(self.base, location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        self.request(
            "PUT",
            url,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            expect=(201,),
            retry=False,
        )
        return True

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> None:
        """Put a manifest or an index under ``reference`` (a tag or its digest)."""
        answer = self.request(
            "PUT", f"manifests/{reference}", data=body, headers={"Content-Type": media_type}
        )
        digest = answer.headers.get("Docker-Content-Digest")
        if digest is not None and digest != _sha256(body):
            raise RegistryError(
                f"the registry stored manifests/{reference} as {digest}, not {_sha256(body)}"
            )

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | Path | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Iterable[int] = (200, 201, 202),
        retry: bool = True,
    ) -> _Response:
        """One request; retried on 5xx (distribution 2.8 has passing 500s), checked against
        ``expect``."""
        url = urllib.parse.urljoin(self.base, path)
        expected = tuple(expect)
        attempts = _RETRIES if retry else 1
        for attempt in range(attempts):
            answer = self._send(method, url, data, headers or {})
            if answer.status < 500 or attempt == attempts - 1:
                break
            time.sleep(0.2 * (attempt + 1))
        if answer.status in expected:
            return answer
        if answer.status == 401:
            challenge = answer.headers.get("WWW-Authenticate", "no challenge")
            given = "with the credentials given" if self.auth else "without credentials"
            raise RegistryError(f"{method} {url}: 401 {given} ({challenge})")
        raise RegistryError(
            f"{method} {url}: HTTP {answer.status}, expected {expected}:"
            f" {answer.body[:500].decode(errors='replace')}"
        )

    def _send(
        self, method: str, url: str, data: bytes | Path | None, headers: Mapping[str, str]
    ) -> _Response:
        request = urllib.request.Request(url, method=method, headers=dict(headers))
        if self.auth is not None:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode("ascii")
            request.add_header("Authorization", f"Basic {token}")
        if data is None and method in ("POST", "PUT"):
            data = b""
        if isinstance(data, Path):
            with data.open("rb") as body:
                request.add_header("Content-Length", str(data.stat().st_size))
                request.data = body
                return self._open(request)
        if data is not None:
            request.data = data
        return self._open(request)

    def _open(self, request: urllib.request.Request) -> _Response:
        try:
            with _OPENER.open(request, timeout=120) as response:
                return _Response(int(response.status), response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                return _Response(int(error.code), error.headers, error.read())
