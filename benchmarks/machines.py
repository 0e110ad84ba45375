"""A new machine for each job of the hosted-runner benchmark (hosted.py).

A hosted runner (GitLab.com's, GitHub's) runs every job on a new virtual machine: no image in
its engine, nothing in any cache. Here a machine is a new directory that is the job's HOME (so
Poetry's, pip's and uv's caches and configurations start empty, and no configuration file of
this host is read), a `bin/` with the machine's CPython 3.11 and uv, a checkout of the project,
and, for the jobs that run containers, a new Docker engine: Debian's dockerd with its own data
root, exec root and socket under the machine's directory, started before the job's clock starts
and removed with the machine. The engine has no bridge network and touches no iptables rule (the
engine of the test suite owns docker0): its containers and builds use the host's network, where
the loopback registry and index are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time

from dataclasses import dataclass
from dataclasses import field
from typing import IO
from typing import TYPE_CHECKING

from tests.support.registry import terminate

from benchmarks.service import Service


if TYPE_CHECKING:
    from pathlib import Path


ENGINE_START_TIMEOUT = 60.0
CHECKOUT = "builds/project"  # where a job's checkout is, in its machine
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class FreshEngine(Service):
    """A new dockerd under `root`: empty image store, no build cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> FreshEngine:
        self.root.mkdir(parents=True, exist_ok=True)
        self._log = (self.root / "dockerd.log").open("wb")
        self._process = subprocess.Popen(
            [
                "dockerd",
                "--data-root",
                str(self.root / "data"),
                "--exec-root",
                str(self.root / "exec"),
                "--pidfile",
                str(self.root / "dockerd.pid"),
                "--host",
                self.docker_host,
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + ENGINE_START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        log = (self.root / "dockerd.log").read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError("a fresh dockerd did not start:\n" + "\n".join(log))

    def _answers(self) -> bool:
        done = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env={"PATH": SYSTEM_PATH, "DOCKER_HOST": self.docker_host, "HOME": str(self.root)},
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def stop(self) -> None:
        """Stop this dockerd (and the containerd it started), then remove its files."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process, timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None
        for mount in reversed(_mounts_under(self.root)):
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _mounts_under(root: Path) -> list[str]:
    prefix = f"{root}/"
    with contextlib.suppress(OSError), open("/proc/mounts", encoding="utf-8") as mounts:
        return [
            fields[1]
            for line in mounts
            if (fields := line.split()) and fields[1].startswith(prefix)
        ]
    return []


@dataclass
class Machine:
    """A job's machine: `root` (HOME), `bin` on PATH, `checkout`; `engine` when it has one."""

    root: Path
    python: Path  # the machine's CPython 3.11
    uv: Path  # a directory with uv and uvx
    with_engine: bool
    system_pip: bool = False  # a Python with pip of its own, as the official python images have
    env: dict[str, str] = field(default_factory=dict)
    engine: FreshEngine | None = None

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def checkout(self) -> Path:
        return self.root / CHECKOUT

    def start(self, project: Path, extra_env: dict[str, str], home: Path | None = None) -> Machine:
        """Make the machine with a copy of `project` checked out (and a copy of `home` as its
        HOME: a runner that kept its caches): not timed."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.bin.mkdir(parents=True)
        if home is None:
            self.home.mkdir()
        else:
            shutil.copytree(home, self.home, symlinks=True)
        for name in ("python3", "python3.11", "python"):
            (self.bin / name).symlink_to(self.python)
        for name in ("uv", "uvx"):
            shutil.copy2(self.uv / name, self.bin / name)
        path = f"{self.bin}:{SYSTEM_PATH}"
        if self.system_pip:
            system = self.root / "python"
            subprocess.run([str(self.python), "-m", "venv", str(system)], check=True)
            path = f"{system / 'bin'}:{path}"
        shutil.copytree(project, self.checkout, symlinks=True)
        docker_config = self.home / ".docker"
        docker_config.mkdir(exist_ok=True)
        (docker_config / "config.json").write_text('{"auths": {}}\n')
        self.env = dict(  # nothing of this host's environment
            LANG="C.UTF-8",
            HOME=str(self.home),
            PATH=path,
            PIP_CONFIG_FILE=os.devnull,  # no configuration file of this host
            UV_NO_CONFIG="1",
            UV_PYTHON=str(self.python),
            UV_PYTHON_DOWNLOADS="never",
            DOCKER_CONFIG=str(docker_config),
            DOCKER_BUILDKIT="0",  # Debian's dockerd 20.10 builds with its classic builder
            PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
            CI="true",
            GITLAB_CI="true",
        )
        self.env.update(extra_env)
        if self.with_engine:
            self.engine = FreshEngine(self.root / "engine").start()
            self.env["DOCKER_HOST"] = self.engine.docker_host
        return self

    def stop(self) -> None:
        """Stop the engine and remove the machine."""
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
        shutil.rmtree(self.root, ignore_errors=True)
