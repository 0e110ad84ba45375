"""The image's bytecode: which interpreter compiles it, and the pycs of each part.

Every Python layer gets its pycs, compiled by the base's own CPython (runtime.py, compiler.py):
the dependencies', Poetry's, and, when the base ships none, its standard library's. A pyc's bytes
depend on the source, its path in the image, the interpreter's exact version and the kind
(`checked` or `unchecked` hash-based pycs), not on the architecture, so one interpreter compiles
for every platform of that version: the host's own architecture first, another under QEMU.
`key(platform)` is what the layers' cache keys add for that: a layer compiled once is never
compiled again for the same version, and no runtime is extracted or started until a layer
misses the cache.
"""

from __future__ import annotations

import contextlib
import json
import threading

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import TypeGuard

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.image.base_root import RootUnavailable
from poetry_ci_image.image.base_runtime import RuntimeUnavailable
from poetry_ci_image.image.base_runtime import host_machine
from poetry_ci_image.image.base_runtime import runtime_of
from poetry_ci_image.image.bytecode.compiler import Compiler
from poetry_ci_image.plumbing.atomic import write_atomically
from poetry_ci_image.settings.target import PLATFORMS


if TYPE_CHECKING:
    from poetry_ci_image.image.base_root import BaseRoots
    from poetry_ci_image.image.base_runtime import Runtime


@dataclass(frozen=True)
class Interpreter:
    """A platform's base interpreter: where it is in the image (its files are in the base's
    root, `BaseRoots`)."""

    platform: str
    base: str  # the base image, for messages
    python: str  # /usr/bin/python3.11
    version: str  # "3.11.2"; only "3.11" when the base does not say (then it is asked)


@dataclass
class BytecodeMaker:
    """Compilers and runtimes for the platforms of one image, made when first needed."""

    mode: str  # "checked", "unchecked" or "off"
    interpreters: dict[str, Interpreter]  # by platform
    roots: BaseRoots  # each platform's base root, where its interpreter's files are
    workers: int  # servers per compiler
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False)
    _loaded: dict[str, Runtime] = field(default_factory=dict, init=False)
    _versions: dict[str, tuple[int, int, int]] = field(default_factory=dict, init=False)
    _compilers: dict[tuple[int, int, int], Compiler] = field(default_factory=dict, init=False)
    _answers: dict[str, dict[str, object]] = field(default_factory=dict, init=False)

    @property
    def on(self) -> bool:
        return self.mode != "off"

    def key(self, platform: str) -> list[str] | None:
        """What a layer's bytes owe to bytecode on `platform`, for cache keys (None: none)."""
        if not self.on:
            return None
        return [self.mode, "cpython-" + ".".join(map(str, self.version(platform)))]

    def version(self, platform: str) -> tuple[int, int, int]:
        """The exact version of `platform`'s interpreter: as the base says, else as it says."""
        with self._lock:
            if platform not in self._versions:
                parts = self.interpreters[platform].version.split(".")
                if len(parts) >= 3 and all(part.isdigit() for part in parts[:3]):
                    self._versions[platform] = (int(parts[0]), int(parts[1]), int(parts[2]))
                else:
                    self._versions[platform] = self._asked_version(platform)
            return self._versions[platform]

    def _asked_version(self, platform: str) -> tuple[int, int, int]:
        """The version the interpreter says, asked once per base digest: kept beside its
        runtime, since asking an interpreter of another architecture takes emulation's start."""
        runtime = self.runtime(platform)
        kept = runtime.root.parent / "version.json"  # beside the root: one per base digest
        with contextlib.suppress(OSError, ValueError):
            said = json.loads(kept.read_text())
            if _is_version(said):
                return (said[0], said[1], said[2])
        said = self._probe(platform, runtime)["version"]
        if not _is_version(said):
            raise self._refusal(platform, "it did not say its version")
        with contextlib.suppress(OSError):  # a cache that cannot be written asks again next time
            write_atomically(kept, json.dumps(said))
        return (said[0], said[1], said[2])

    def runtime(self, platform: str) -> Runtime:
        """`platform`'s interpreter and standard library, in its base's root."""
        with self._lock:
            if platform not in self._loaded:
                interpreter = self.interpreters[platform]
                try:
                    root = self.roots.root(platform)
                    self._loaded[platform] = runtime_of(root, interpreter.python)
                except (RootUnavailable, RuntimeUnavailable) as error:
                    raise self._refusal(platform, str(error)) from None
            return self._loaded[platform]

    def compiler(self, platform: str) -> Compiler:
        """The compiler for `platform`'s version: the first platform of that version whose
        interpreter runs here (the host's architecture first)."""
        version = self.version(platform)
        with self._lock:
            compiler = self._compilers.get(version)
            if compiler is not None:
                return compiler
            same = [p for p in self.interpreters if self.version(p) == version]
            same.sort(key=lambda p: PLATFORMS.get(p) != host_machine())
            reasons = []
            for candidate in same:
                runtime = self.runtime(candidate)
                try:
                    answer = self._probe(candidate, runtime)
                except ConfigError as error:
                    reasons.append(error.message)
                    continue
                compiler = Compiler(
                    runtime,
                    version,
                    str(answer.get("cache_tag", "")),
                    checked=self.mode == "checked",
                    workers=self.workers,
                )
                self._compilers[version] = compiler
                return compiler
            raise ConfigError(reasons[0], _hint(platform)) if reasons else AssertionError

    def close(self) -> None:
        with self._lock:
            for compiler in self._compilers.values():
                compiler.close()
            self._compilers.clear()

    def _probe(self, platform: str, runtime: Runtime) -> dict[str, object]:
        """What `platform`'s interpreter says of itself, asked once per run (a version asked
        of it is then not asked again for its compiler)."""
        with self._lock:
            if platform not in self._answers:
                try:
                    self._answers[platform] = runtime.probe()
                except RuntimeUnavailable as error:
                    raise self._refusal(platform, str(error)) from None
            return self._answers[platform]

    def _refusal(self, platform: str, why: str) -> ConfigError:
        interpreter = self.interpreters[platform]
        return ConfigError(
            f"The Python of the base image {interpreter.base} for {platform} "
            f"({interpreter.python}) cannot run on this host, and the image's bytecode must be "
            f"compiled by it: {why}.",
            _hint(platform),
        )


def _is_version(said: object) -> TypeGuard[list[int]]:
    return isinstance(said, list) and len(said) == 3 and all(isinstance(part, int) for part in said)


def _hint(platform: str) -> str:
    return (
        f"Push from a {platform} Linux host, or install QEMU user emulation (Debian: "
        'qemu-user-static) for it; or set bytecode = "off" in [tool.poetry-ci-image] '
        "(or --bytecode off) for an image without bytecode."
    )
