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

import json
import re

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.image.base_files import FACTS_FORMAT
from poetry_ci_image.image.base_files import BaseFacts
from poetry_ci_image.image.base_files import facts_of
from poetry_ci_image.image.base_files import scan_layers
from poetry_ci_image.image.cache.keys import cache_key
from poetry_ci_image.image.config import DEFAULT_PATH
from poetry_ci_image.image.venv import BasePython
from poetry_ci_image.oci import INDEX_TYPES
from poetry_ci_image.oci import PLATFORM_FIELDS
from poetry_ci_image.oci import Descriptor
from poetry_ci_image.plumbing.progress import SILENT
from poetry_ci_image.plumbing.progress import size_text


if TYPE_CHECKING:
    from poetry_ci_image.image.cache.facts import Facts
    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.reference import ImageReference
    from poetry_ci_image.registry.registries import Registry
    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.plan import InstallPlan


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


def resolve_base(registry: Registry, reference: ImageReference, platform: str) -> BaseImage:
    """The base's manifest for `platform` (picked from an index), its config and layers."""
    manifest = registry.get_manifest(reference.path, reference.reference)
    document = _json(manifest.body, f"the manifest of {reference}")
    if manifest.media_type in INDEX_TYPES or "manifests" in document:
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
    base: BaseImage, registry: Registry, facts: Facts, reporter: Reporter = SILENT
) -> BaseFacts:
    """The facts of the base's files, from the build cache (or the registry's layer cache) or
    by streaming its layers once (then kept there)."""
    key = cache_key("base-facts", FACTS_FORMAT, base.digest)
    try:
        kept = facts.recall(key)
        cached = BaseFacts.from_json(json.loads(kept)) if kept else None
    except (ValueError, KeyError, TypeError, IndexError):
        cached = None
    if cached is not None:
        return cached
    size = size_text(sum(layer.size for layer in base.layers))
    reporter.status(f"Reading the files of {base.reference} ({size}, once per base digest)")
    path = base.env.get("PATH", DEFAULT_PATH)
    repository = base.reference.path
    files = scan_layers([registry.stream_blob(repository, layer.digest) for layer in base.layers])
    found = facts_of(files, path)
    facts.remember(key, json.dumps(found.as_json(), sort_keys=True))
    return found


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
