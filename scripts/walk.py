"""The push walked as data: which of the plugin's modules call which, in the order a push does.

Runs one real `poetry image push` (a two-package project, a loopback index and registry, the
amd64 base that `.ci/engine` made) in this process, under a profiler that notes every call from
a function of one of the plugin's modules into a function of another. It prints:

- the hops: each (caller module -> callee module) pair, in the order it is first taken;
- the back-and-forths: hops into a module that is already on the call stack (control reaching
  back into a module that called it: a callback, a property that parses again, a generator);
- how often each module is entered.

    .venv/bin/python scripts/walk.py

Needs what `.ci/setup` installs (docker-registry, the root file system tarball); no engine.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading

from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PACKAGE = ROOT / "src" / "poetry_ci_image"


def module_of(filename: str) -> str | None:
    """`tag/resolve` for src/poetry_ci_image/tag/resolve.py; None outside the plugin."""
    try:
        relative = Path(filename).resolve().relative_to(PACKAGE)
    except ValueError:
        return None
    return relative.with_suffix("").as_posix()


class Walk:
    """Calls between the plugin's modules, as a profiler sees them (every thread)."""

    def __init__(self) -> None:
        self.hops: list[tuple[str, str]] = []
        self.entered: dict[str, int] = {}
        self.back: set[tuple[str, str]] = set()  # hops into a module already on the stack
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or frame.f_code.co_name == "<module>":  # imports are not the walk
            return
        callee = module_of(frame.f_code.co_filename)
        if callee is None:
            return
        above: list[str] = []  # the plugin's modules on the stack, nearest first
        outer = frame.f_back
        while outer is not None:
            module = module_of(outer.f_code.co_filename)
            if module is not None and (not above or above[-1] != module):
                above.append(module)
            outer = outer.f_back
        if not above or above[0] == callee:
            return
        hop = (above[0], callee)
        with self._lock:
            self.entered[callee] = self.entered.get(callee, 0) + 1
            if hop not in self._seen:
                self._seen.add(hop)
                self.hops.append(hop)
                if callee in above[1:]:
                    self.back.add(hop)

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        threading.setprofile(self.profile)
        sys.setprofile(self.profile)
        try:
            yield
        finally:
            sys.setprofile(None)
            threading.setprofile(None)

    def report(self) -> str:
        lines = ["hops (caller -> callee, in the order first taken):"]
        for caller, callee in self.hops:
            mark = "   <- back" if (caller, callee) in self.back else ""
            lines.append(f"  {caller} -> {callee}{mark}")
        lines.append("modules entered (times):")
        for module, count in sorted(self.entered.items(), key=lambda item: -item[1]):
            lines.append(f"  {module}: {count}")
        lines.append(f"{len(self.hops)} hops, {len(self.back)} back-and-forths")
        return "\n".join(lines)


def main() -> int:
    from tests.integration.conftest import lock
    from tests.integration.conftest import write_project
    from tests.support.base_images import push_base_image
    from tests.support.base_images import rootfs_tarball
    from tests.support.distributions import build_wheel
    from tests.support.index import PackageIndex
    from tests.support.poetry_cli import clean_env
    from tests.support.registry import Registry

    with tempfile.TemporaryDirectory(prefix="walk-") as scratch:
        work = Path(scratch)
        files = work / "files"
        files.mkdir()
        build_wheel(files, "alpha", "1.0", requires=("beta>=1",))
        build_wheel(files, "beta", "1.0")
        with Registry(work / "registry") as registry, PackageIndex(files) as index:
            tarball = rootfs_tarball("linux/amd64")
            push_base_image(registry.host, "library/python", "3.11", {"linux/amd64": tarball})
            table = (
                f'repository = "{registry.host}/walk/ci-image"\n'
                f'base = "{registry.host}/library/python:3.11"\n'
                'libc = "glibc 2.36"\n'
            )
            project = write_project(
                work / "project", index_url=index.url, dependencies='"alpha>=1"', table=table
            )
            env = clean_env(work / "home")
            env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
            env.pop("PIP_CONFIG_FILE", None)
            lock(project, env)
            os.environ.clear()
            os.environ.update(env)
            os.chdir(project)
            walk = Walk()
            from cleo.io.inputs.argv_input import ArgvInput
            from poetry.console.application import Application

            application = Application()
            application.auto_exits(False)
            with walk.recording():
                status = application.run(ArgvInput(["poetry", "--no-ansi", "image", "push"]))
            if status != 0:
                print(f"the push failed ({status})", file=sys.stderr)
                return 1
            print(walk.report())
    return 0


if __name__ == "__main__":
    if os.environ.get("WALK_CHILD") != "1":  # a clean interpreter: nothing imported before
        sys.exit(subprocess.call([sys.executable, __file__], env={**os.environ, "WALK_CHILD": "1"}))
    sys.exit(main())
