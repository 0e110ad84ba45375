"""Sources to pycs, by the target's own interpreter: a few compile servers (server.py) of one
extracted runtime, shared by the threads that install the wheels.

A server is started when the first file is compiled, and checked first: it must be exactly the
interpreter the layers' cache keys name (its X.Y.Z), so that no bytecode of another version
ever reaches an image. `compile` hands one package's sources to an idle server and returns its
pycs; sources that do not compile (a template with Python's suffix, Python 2 code) get none, as
`pip install` and `compileall` leave them.
"""

from __future__ import annotations

import json
import queue
import struct
import subprocess
import tempfile
import threading

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO
from typing import TYPE_CHECKING

from poetry_ci_image.image.base_runtime import RuntimeUnavailable


if TYPE_CHECKING:
    from collections.abc import Sequence

    from poetry_ci_image.image.base_runtime import Runtime


_LENGTH = struct.Struct(">I")
CHUNK = 200  # sources a server takes at once when a package has many
HERE = Path(__file__).resolve().parent
SERVER = HERE / "server.py"
CANONICAL = HERE / "canonical.py"


class CompileFailed(Exception):
    """A compile server stopped answering; `str()` says what it printed."""


class _Server:
    """One compile server process."""

    def __init__(self, runtime: Runtime, checked: bool) -> None:
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        kind = "checked" if checked else "unchecked"
        try:
            self._process = subprocess.Popen(
                runtime.command(str(SERVER), str(CANONICAL), kind),
                env=runtime.environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._errors,
            )
        except OSError as error:
            self._errors.close()
            raise RuntimeUnavailable(error.strerror or str(error)) from None
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._in: IO[bytes] = self._process.stdin
        self._out: IO[bytes] = self._process.stdout
        self.hello: dict[str, object] = json.loads(self._frame())

    def compile(self, path: str, source: bytes) -> bytes | None:
        encoded = path.encode()
        try:
            self._in.write(_LENGTH.pack(len(encoded)) + encoded + _LENGTH.pack(len(source)))
            self._in.write(source)
            self._in.flush()
            status = self._read(1)[0]
            payload = self._frame()
        except (OSError, EOFError):
            raise CompileFailed(self._said()) from None
        return payload if status == 0 else None

    def close(self) -> None:
        try:
            self._in.write(_LENGTH.pack(0))
            self._in.close()
            self._process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        finally:
            self._out.close()
            self._errors.close()

    def _frame(self) -> bytes:
        (size,) = _LENGTH.unpack(self._read(4))
        return self._read(size)

    def _read(self, size: int) -> bytes:
        data = self._out.read(size)
        if len(data) != size:
            raise EOFError
        return data

    def _said(self) -> str:
        self._process.kill()
        self._process.wait()
        self._errors.seek(0)
        lines = self._errors.read().decode(errors="replace").strip().splitlines()
        return " ".join(lines[-3:]) or f"the compile server exited {self._process.returncode}"


class Compiler:
    """`workers` servers of one runtime, for threads: each `compile` takes an idle one."""

    def __init__(
        self,
        runtime: Runtime,
        version: tuple[int, int, int],
        cache_tag: str,
        *,
        checked: bool,
        workers: int,
    ) -> None:
        self.runtime = runtime
        self.version = version
        self.cache_tag = cache_tag  # "cpython-311": the pycs' names
        self.checked = checked
        self._workers = workers
        self._idle: queue.Queue[_Server] = queue.Queue()
        self._all: list[_Server] = []
        self._lock = threading.Lock()

    def compile(self, sources: Sequence[tuple[str, bytes]]) -> dict[str, bytes]:
        """The pyc of each (path in the image, source) that compiles, by path; many sources are
        shared out among the servers."""
        if len(sources) <= CHUNK:
            return self._compile(sources)
        chunks = [sources[start : start + CHUNK] for start in range(0, len(sources), CHUNK)]
        with ThreadPoolExecutor(self._workers, thread_name_prefix="compile") as pool:
            compiled: dict[str, bytes] = {}
            for part in pool.map(self._compile, chunks):
                compiled.update(part)
            return compiled

    def _compile(self, sources: Sequence[tuple[str, bytes]]) -> dict[str, bytes]:
        if not sources:
            return {}
        server = self._take()
        try:
            compiled = {}
            for path, source in sources:
                pyc = server.compile(path, source)
                if pyc is not None:
                    compiled[path] = pyc
            return compiled
        finally:
            self._idle.put(server)

    def close(self) -> None:
        with self._lock:
            for server in self._all:
                server.close()
            self._all.clear()

    def _take(self) -> _Server:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._all) < self._workers:
                server = _Server(self.runtime, self.checked)
                self._check(server)
                self._all.append(server)
                return server
        return self._idle.get()

    def _check(self, server: _Server) -> None:
        """Refuse a server that is not the interpreter the cache keys name."""
        said = server.hello.get("version")
        tag = server.hello.get("cache_tag")
        if not isinstance(said, list) or tuple(said) != self.version or tag != self.cache_tag:
            server.close()
            version = ".".join(map(str, said)) if isinstance(said, list) else "unknown"
            raise RuntimeUnavailable(
                f"it says it is CPython {version} ({tag}), not "
                f"{'.'.join(map(str, self.version))} ({self.cache_tag})"
            )
