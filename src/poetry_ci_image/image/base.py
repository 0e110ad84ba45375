"""The base image, read from its registry: its manifest for the target, its config, its files.

Nothing runs the base. What the build needs to know of it comes from its config (`Env`: PATH and
PYTHON_VERSION, as the official `python` images set them) and from a few of its files, read once
per base digest by streaming its layers (and cached under Poetry's cache directory):

- which `pythonX.Y` are on its PATH (the venv's `python` links to the target's one);
- its Python's full version (PYTHON_VERSION, else dpkg's or apk's database);
- its libc: glibc's version from `libc.so.6` (or dpkg's database), musl from `ld-musl-*.so.1`;
- its os-release, for messages.

`check_base` then refuses, before anything is built or pushed, a base whose Python is not the
target's, or whose libc is older than a chosen wheel needs.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import tarfile

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.atomic import write_atomically
from poetry_ci_image.errors import ConfigError
from poetry_ci_image.image.config import DEFAULT_PATH
from poetry_ci_image.image.venv import BasePython
from poetry_ci_image.registry.client import DOCKER_LIST
from poetry_ci_image.registry.client import OCI_INDEX
from poetry_ci_image.target import Libc


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator
    from pathlib import Path

    from poetry_ci_image.plan import InstallPlan
    from poetry_ci_image.reference import ImageReference
    from poetry_ci_image.registry.registries import Registry
    from poetry_ci_image.target import Target


FACTS_FORMAT = 1
# Files whose content the facts come from (paths in the image, no leading slash).
_READ = ("etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status", "lib/apk/db/installed")
_LIBC = re.compile(r"(^|/)libc\.so\.6$")
_MUSL = re.compile(r"(^|/)ld-musl-[a-z0-9_]+\.so\.1$")
_PYTHON = re.compile(r"(^|/)python(3\.\d+)$")
_GLIBC_RELEASE = re.compile(rb"release version (\d+)\.(\d+)")
_GLIBC_FILE = re.compile(r"libc-(\d+)\.(\d+)\.so$")
PLATFORM_FIELDS = {"linux/amd64": ("amd64", None), "linux/arm64": ("arm64", "v8")}


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class BaseImage:
    """The base, resolved for one platform."""

    reference: ImageReference
    digest: str  # of the platform's manifest
    config_digest: str  # what an engine that pulled it calls its image ID
    config: dict[str, Any]
    layers: tuple[Descriptor, ...]

    @property
    def env(self) -> dict[str, str]:
        pairs = (item.partition("=") for item in self.config.get("config", {}).get("Env") or ())
        return {key: value for key, _, value in pairs}


@dataclass(frozen=True)
class BaseFacts:
    """What the base's files say (see the module's docstring)."""

    pythons: dict[str, str]  # "3.11" -> "/usr/bin/python3.11", first on PATH
    python_versions: dict[str, str]  # "3.11" -> "3.11.2", from a package database
    libc: Libc | None
    os_name: str  # PRETTY_NAME of os-release, or ""

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FACTS_FORMAT,
            "pythons": self.pythons,
            "python_versions": self.python_versions,
            "libc": [self.libc.family, *self.libc.version] if self.libc else None,
            "os_name": self.os_name,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BaseFacts | None:
        if data.get("format") != FACTS_FORMAT:
            return None
        libc = data["libc"]
        return cls(
            pythons=dict(data["pythons"]),
            python_versions=dict(data["python_versions"]),
            libc=Libc(libc[0], (int(libc[1]), int(libc[2]))) if libc else None,
            os_name=str(data["os_name"]),
        )


def resolve_base(registry: Registry, reference: ImageReference, platform: str) -> BaseImage:
    """The base's manifest for `platform` (picked from an index), its config and layers."""
    manifest = registry.get_manifest(reference.path, reference.reference)
    document = _json(manifest.body, f"the manifest of {reference}")
    if manifest.media_type in (OCI_INDEX, DOCKER_LIST) or "manifests" in document:
        chosen = _pick_platform(document, platform, reference)
        manifest = registry.get_manifest(reference.path, chosen)
        document = _json(manifest.body, f"the {platform} manifest of {reference}")
    config_descriptor = document.get("config") or {}
    config = _json(
        registry.get_blob(reference.path, config_descriptor["digest"]), f"the config of {reference}"
    )
    architecture, _ = PLATFORM_FIELDS[platform]
    if config.get("architecture") != architecture or config.get("os", "linux") != "linux":
        raise ConfigError(
            f"The base image {reference} is for {config.get('os')}/{config.get('architecture')}, "
            f"not {platform}.",
            f"Use a base image that has a {platform} variant (a multi-platform image), or set "
            "platform to the base's.",
        )
    layers = tuple(
        Descriptor(item["mediaType"], item["digest"], int(item["size"]))
        for item in document.get("layers", [])
    )
    return BaseImage(reference, manifest.digest, str(config_descriptor["digest"]), config, layers)


def _pick_platform(index: dict[str, Any], platform: str, reference: ImageReference) -> str:
    architecture, variant = PLATFORM_FIELDS[platform]
    offered: list[str] = []
    for item in index.get("manifests", []):
        fields = item.get("platform") or {}
        os_name, arch = fields.get("os"), fields.get("architecture")
        if os_name == "unknown":  # build attestations
            continue
        offered.append("/".join(str(f) for f in (os_name, arch, fields.get("variant")) if f))
        matches = os_name == "linux" and arch == architecture
        if matches and (variant is None or fields.get("variant", variant) == variant):
            return str(item["digest"])
    raise ConfigError(
        f"The base image {reference} has no {platform} variant (it offers "
        f"{', '.join(offered) or 'none'}).",
        "Choose a base image for the platform, or another platform.",
    )


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ConfigError(
            f"The registry sent {what} in a form that is not an image document.",
            "Check the base image's name; report it if the base is an ordinary image.",
        )
    return document


def base_facts(
    base: BaseImage, registry: Registry, cache: Path | None, notify: Any = None
) -> BaseFacts:
    """The facts of the base's files, from the cache or by streaming its layers once."""
    cached_file = cache / f"{base.digest.replace(':', '-')}.json" if cache else None
    if cached_file is not None:
        try:
            cached = BaseFacts.from_json(json.loads(cached_file.read_text()))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            cached = None
        if cached is not None:
            return cached
    if notify is not None:
        notify(f"Reading the files of {base.reference} ({len(base.layers)} layers, once)")
    path = base.env.get("PATH", DEFAULT_PATH)
    files = scan_layers(
        registry.stream_blob(base.reference.path, layer.digest) for layer in base.layers
    )
    facts = facts_of(files, path)
    if cached_file is not None:
        with contextlib.suppress(Exception):  # a cache that cannot be written: a slower run
            write_atomically(cached_file, json.dumps(facts.as_json(), sort_keys=True))
    return facts


@dataclass(frozen=True)
class FileFacts:
    """The base's file system as the facts need it: every path's kind, some files' bytes."""

    kinds: dict[str, tuple[str, str]]  # path -> ("file" | "dir" | "link", link target)
    contents: dict[str, bytes]


def scan_layers(layers: Iterable[Iterable[bytes]]) -> FileFacts:
    """Apply the layers (gzip or plain tar streams, bottom first) as a container runtime does,
    keeping each path's kind and the contents of the files the facts come from."""
    kinds: dict[str, tuple[str, str]] = {}
    contents: dict[str, bytes] = {}
    for chunks in layers:
        reader = _ChunkReader(iter(chunks))
        with tarfile.open(fileobj=reader, mode="r|*") as tar:  # type: ignore[call-overload]
            for member in tar:
                path = posixpath.normpath(member.name.lstrip("/")).removeprefix("./")
                directory, name = posixpath.split(path)
                if name == ".wh..wh..opq":
                    _forget(kinds, contents, directory, keep_directory=True)
                    continue
                if name.startswith(".wh."):
                    _forget(kinds, contents, posixpath.join(directory, name[4:]))
                    continue
                parent = posixpath.dirname(path)
                while parent and parent not in kinds:  # parents a layer does not list
                    kinds[parent] = ("dir", "")
                    parent = posixpath.dirname(parent)
                if member.isdir():
                    kinds[path] = ("dir", "")
                elif member.issym():
                    kinds[path] = ("link", member.linkname)
                    contents.pop(path, None)
                elif member.islnk():
                    target = posixpath.normpath(member.linkname.lstrip("/")).removeprefix("./")
                    kinds[path] = kinds.get(target, ("file", ""))
                    if target in contents:
                        contents[path] = contents[target]
                elif member.isfile():
                    kinds[path] = ("file", "")
                    if path in _READ or _LIBC.search(path):
                        stream = tar.extractfile(member)
                        contents[path] = stream.read() if stream else b""
                    else:
                        contents.pop(path, None)
    return FileFacts(kinds, contents)


def _forget(
    kinds: dict[str, tuple[str, str]],
    contents: dict[str, bytes],
    path: str,
    keep_directory: bool = False,
) -> None:
    prefix = path + "/" if path else ""
    for known in [k for k in kinds if k.startswith(prefix) or (k == path and not keep_directory)]:
        kinds.pop(known, None)
        contents.pop(known, None)


class _ChunkReader:
    """A read()-able stream over an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def resolve_path(kinds: dict[str, tuple[str, str]], path: str, depth: int = 0) -> str | None:
    """`path` with its symbolic links followed, inside the image; None if it does not exist."""
    if depth > 40:
        return None
    parts = [part for part in path.strip("/").split("/") if part]
    current = ""
    for index, part in enumerate(parts):
        candidate = posixpath.join(current, part) if current else part
        kind = kinds.get(candidate)
        if kind is None:
            return None
        if kind[0] == "link":
            target = kind[1]
            if target.startswith("/"):
                joined = posixpath.normpath(target.lstrip("/"))
            else:
                joined = posixpath.normpath(posixpath.join(current, target))
            rest = "/".join(parts[index + 1 :])
            return resolve_path(kinds, posixpath.join(joined, rest) if rest else joined, depth + 1)
        current = candidate
    return current


def facts_of(files: FileFacts, path: str) -> BaseFacts:
    kinds, contents = files.kinds, files.contents
    pythons: dict[str, str] = {}
    for directory in path.split(":"):
        directory = directory.strip("/")
        if not directory:
            continue
        real = resolve_path(kinds, directory)
        if real is None:
            continue
        for known in kinds:
            match = _PYTHON.search(known)
            if match and posixpath.dirname(known) == real:
                resolved = resolve_path(kinds, known)
                if resolved is not None and kinds.get(resolved, ("", ""))[0] == "file":
                    pythons.setdefault(match[2], f"/{directory}/python{match[2]}")
    os_release = _key_values(
        contents.get("etc/os-release") or contents.get(_os_release_target(kinds)) or b""
    )
    packages = _dpkg(contents.get("var/lib/dpkg/status", b""))
    packages.update(_apk(contents.get("lib/apk/db/installed", b"")))
    versions = {}
    for minor in pythons:
        version = packages.get(f"python{minor}-minimal") or packages.get(f"python{minor}")
        if version is None and packages.get("python3", "").startswith(minor + "."):
            version = packages["python3"]
        if version:
            versions[minor] = version.split("-")[0].split("+")[0]
    return BaseFacts(
        pythons=pythons,
        python_versions=versions,
        libc=_libc(kinds, contents, packages),
        os_name=os_release.get("PRETTY_NAME", ""),
    )


def _os_release_target(kinds: dict[str, tuple[str, str]]) -> str:
    return resolve_path(kinds, "etc/os-release") or "usr/lib/os-release"


def _libc(
    kinds: dict[str, tuple[str, str]], contents: dict[str, bytes], packages: dict[str, str]
) -> Libc | None:
    if any(_MUSL.search(path) for path in kinds):
        version = packages.get("musl", "1.2")
        numbers = re.match(r"(\d+)\.(\d+)", version)
        return Libc("musl", (int(numbers[1]), int(numbers[2])) if numbers else (1, 2))
    for path, (kind, target) in sorted(kinds.items()):
        if not _LIBC.search(path):
            continue
        if kind == "link":
            match = _GLIBC_FILE.search(target)
            if match:
                return Libc("glibc", (int(match[1]), int(match[2])))
            resolved = resolve_path(kinds, path)
            content = contents.get(resolved or "", b"")
        else:
            content = contents.get(path, b"")
        release = _GLIBC_RELEASE.search(content)
        if release:
            return Libc("glibc", (int(release[1]), int(release[2])))
    numbers = re.match(r"(\d+)\.(\d+)", packages.get("libc6", ""))
    return Libc("glibc", (int(numbers[1]), int(numbers[2]))) if numbers else None


def _key_values(text: bytes) -> dict[str, str]:
    values = {}
    for line in text.decode(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def _dpkg(status: bytes) -> dict[str, str]:
    """Package -> version of the installed packages in a dpkg status file."""
    packages: dict[str, str] = {}
    for stanza in status.decode(errors="replace").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if "installed" in fields.get("Status", "") and "Package" in fields and "Version" in fields:
            packages[fields["Package"].split(":")[0]] = fields["Version"]
    return packages


def _apk(installed: bytes) -> dict[str, str]:
    """Package -> version of an Alpine apk database."""
    packages: dict[str, str] = {}
    name = ""
    for line in installed.decode(errors="replace").splitlines():
        if line.startswith("P:"):
            name = line[2:]
        elif line.startswith("V:") and name:
            packages[name] = line[2:]
    return packages


def check_base(base: BaseImage, facts: BaseFacts, target: Target, plan: InstallPlan) -> BasePython:
    """The base's Python for the target's venv; a ConfigError when the base cannot run the plan."""
    minor = target.python_minor
    executable = facts.pythons.get(minor)
    if executable is None:
        found = ", ".join(f"{v} ({p})" for v, p in sorted(facts.pythons.items())) or "none"
        raise ConfigError(
            f"The base image {base.reference} has no Python {minor} on its PATH (Pythons found: "
            f"{found}); the target is CPython {minor}.",
            "Set python and base in [tool.poetry-ci-image] to the same version "
            f'(for example base = "python:{minor}-slim").',
        )
    declared = base.env.get("PYTHON_VERSION", "")
    version = (
        declared if declared.startswith(minor + ".") else facts.python_versions.get(minor, minor)
    )
    _check_libc(base, facts, target, plan)
    return BasePython(executable, version)


def _check_libc(base: BaseImage, facts: BaseFacts, target: Target, plan: InstallPlan) -> None:
    actual = facts.libc
    if actual is None:
        return  # nothing to compare with: the wheels were chosen for the assumed libc
    assumed = target.libc
    if actual.family != assumed.family:
        raise ConfigError(
            f"The base image {base.reference} runs {actual}, but the tag assumes "
            f"{assumed}, so the wheels chosen are for the other libc.",
            f'Set libc = "{actual}" in [tool.poetry-ci-image], run `poetry image tag`, and commit '
            "the tag-file.",
        )
    too_new = []
    for package in plan.packages:
        if package.distribution is None:
            continue
        needs = wheel_libc(package.distribution.filename, actual.family)
        if needs is not None and needs > actual.version:
            too_new.append(
                f"{package.name} {package.version} ({package.distribution.filename} needs "
                f"{actual.family} {needs[0]}.{needs[1]})"
            )
    if too_new:
        raise ConfigError(
            f"The base image {base.reference} has {actual}"
            + (f" ({facts.os_name})" if facts.os_name else "")
            + f", older than the tag assumes ({assumed}): "
            + "; ".join(too_new)
            + ".",
            f'Set libc = "{actual}" in [tool.poetry-ci-image] so that wheels that run on the base '
            "are chosen, run `poetry image tag`, and commit the tag-file.",
        )


_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_POLICY = re.compile(r"^(many|musl)linux_(\d+)_(\d+)_")


def wheel_libc(filename: str, family: str) -> tuple[int, int] | None:
    """The oldest libc of `family` one of the wheel's platform tags runs on; None if it names
    none (pure wheels, plain linux_ tags)."""
    if not filename.endswith(".whl"):
        return None
    platforms = filename[:-4].split("-")[-1].split(".")
    needed: list[tuple[int, int]] = []
    for platform in platforms:
        match = _POLICY.match(platform)
        if match and (match[1] == "many") == (family == "glibc"):
            needed.append((int(match[2]), int(match[3])))
        for name, version in _LEGACY.items():
            if platform.startswith(name + "_") and family == "glibc":
                needed.append(version)
    return min(needed) if needed else None
