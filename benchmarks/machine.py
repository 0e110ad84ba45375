"""The machine and the versions a run reports (RESULTS.md's and PIPELINES.md's table), and
the load on the machine while it ran."""

from __future__ import annotations

import os
import platform
import subprocess
import threading

from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.engine import BASE_REPOSITORY
from benchmarks.engine import BASE_TAG


if TYPE_CHECKING:
    from benchmarks.engine import Engine


def machine_facts(
    engine: Engine | None,
    poetry_version: str,
    plugin_commit: str,
    load: tuple[float, float],
    base_size: int | None,
) -> dict[str, str]:
    """The table "Machine and versions"; `engine`: None to leave the engine out; `base_size`:
    the base's compressed bytes (amd64), or None to leave the base out."""
    from poetry_ci_image import __version__ as plugin_version

    facts = {
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores",
        "Memory": f"{_memory_gib():.1f} GiB",
        "OS": f"{_os_name()}, kernel {platform.release()}",
        "Python": platform.python_version(),
        "Poetry": poetry_version,
        "poetry-ci-image": f"{plugin_version}, commit {plugin_commit}",
        "Registry": f"docker-registry (distribution) {registry_version()}, on 127.0.0.1",
    }
    if engine is not None:
        facts["Docker engine"] = f"{engine.version()}, classic builder"
    if base_size is not None:
        facts["Base image"] = (
            f"{BASE_REPOSITORY}:{BASE_TAG} in the registry: Debian bookworm with CPython 3.11, "
            f"linux/amd64 + linux/arm64 ({base_size / 1e6:.0f} MB compressed, amd64)"
        )
    facts["Load average (1 min) during the run"] = (
        f"mean {load[0]:.2f}, highest {load[1]:.2f} on {os.cpu_count()} cores (other work on "
        "the machine adds noise)"
    )
    return facts


class LoadMonitor(threading.Thread):
    """Samples the 1-minute load average while the benchmark runs."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self._every = every
        self._samples: list[float] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self._samples.append(os.getloadavg()[0])
            self._done.wait(self._every)

    def stop(self) -> tuple[float, float]:
        """(mean, highest) of the samples."""
        self._done.set()
        self.join()
        return sum(self._samples) / len(self._samples), max(self._samples)


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def registry_version() -> str:
    done = subprocess.run(
        ["docker-registry", "--version"], capture_output=True, text=True, check=False
    )
    words = (done.stdout or done.stderr).split()
    return next((w for w in words if w[:1].isdigit() or w.startswith("v")), "?")
