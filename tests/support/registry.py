"""A real Docker registry (Debian's ``docker-registry``, distribution 2.8) on 127.0.0.1.

``Registry`` writes a config, starts ``docker-registry serve`` as a subprocess, waits for
``/v2/`` to answer, and stops it on exit. With a username and password it uses htpasswd auth
(bcrypt entries made with ``htpasswd -Bbn``).
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

from pathlib import Path
from typing import IO
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from types import TracebackType


STARTUP_TIMEOUT = 20.0

MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)

# Never go through a proxy from the environment to reach loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def registry_binary() -> str | None:
    """The path of Debian's ``docker-registry``, or None if it is not installed."""
    found = shutil.which("docker-registry")
    if found is not None:
        return found
    fallback = Path("/usr/bin/docker-registry")
    return str(fallback) if fallback.is_file() else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _basic(auth: tuple[str, str]) -> str:
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
    return f"Basic {token}"


def http_status(
    url: str,
    *,
    method: str = "GET",
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> int:
    """The HTTP status of one request (no proxy, errors answered as their status)."""
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if auth is not None:
        request.add_header("Authorization", _basic(auth))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code)


def manifest_status(
    host: str, repository: str, tag: str, auth: tuple[str, str] | None = None
) -> int:
    """The status of ``HEAD /v2/<repository>/manifests/<tag>`` on ``host`` (Docker v2 and OCI)."""
    return http_status(
        f"http://{host}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        auth=auth,
        headers={"Accept": MANIFEST_ACCEPT},
    )


def manifest_digest(
    host: str, repository: str, reference: str, auth: tuple[str, str] | None = None
) -> str:
    """The digest the registry gives for ``/v2/<repository>/manifests/<reference>`` (its
    ``Docker-Content-Digest`` to a ``HEAD``)."""
    request = urllib.request.Request(
        f"http://{host}/v2/{repository}/manifests/{reference}",
        method="HEAD",
        headers={"Accept": MANIFEST_ACCEPT},
    )
    if auth is not None:
        request.add_header("Authorization", _basic(auth))
    with _OPENER.open(request, timeout=5.0) as response:
        return str(response.headers["Docker-Content-Digest"])


def terminate(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """End a process this code started: SIGTERM, then SIGKILL if it lingers `timeout` s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def _yaml(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(value)


class Registry:
    """A ``docker-registry serve`` on a free loopback port, with its files under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        *,
        username: str | None = None,
        password: str | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.workdir = Path(workdir)
        self.username = username
        self.password = password
        self.startup_timeout = startup_timeout
        self.port = 0
        self.config_path = self.workdir / "config.yml"
        self.htpasswd_path = self.workdir / "htpasswd"
        self.storage_path = self.workdir / "storage"
        self.log_path = self.workdir / "registry.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, the registry part of image references."""
        if self.port == 0:
            raise RuntimeError("the registry is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}"

    @property
    def auth(self) -> tuple[str, str] | None:
        """``(username, password)`` if the registry needs them, else None."""
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)

    def start(self) -> Registry:
        """Write the config, start the registry and wait until ``/v2/`` answers."""
        if self._process is not None:
            raise RuntimeError("the registry is already started")
        binary = registry_binary()
        if binary is None:
            raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_path.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        if self.auth is not None:
            self._write_htpasswd(*self.auth)
        self.config_path.write_text(self._config(), encoding="utf-8")
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [binary, "serve", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate the registry (kill it if it lingers); harmless if not started."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Registry:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the registry's log."""
        if not self.log_path.is_file():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _write_htpasswd(self, username: str, password: str) -> None:
        htpasswd = shutil.which("htpasswd")
        if htpasswd is None:
            raise RuntimeError("htpasswd is not installed (apt-get install apache2-utils)")
        made = subprocess.run(
            [htpasswd, "-Bbn", username, password],
            check=True,
            capture_output=True,
            text=True,
        )
        self.htpasswd_path.write_text(made.stdout.strip() + "\n", encoding="utf-8")

    def _config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {_yaml(str(self.storage_path))}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: {_yaml(self.host)}",
        ]
        if self.auth is not None:
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: " + _yaml("test-registry"),
                f"    path: {_yaml(str(self.htpasswd_path))}",
            ]
        return "\n".join(lines) + "\n"

    def _wait_ready(self) -> None:
        expected = 401 if self.auth is not None else 200
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                status = http_status(f"{self.url}/v2/", timeout=1.0)
            except OSError as error:
                last = str(error)
            else:
                if status == expected:
                    return
                last = f"HTTP {status}"
            time.sleep(0.05)
        raise RuntimeError(
            f"docker-registry did not answer on {self.url}/v2/ within {self.startup_timeout:.0f} s"
            f" ({last}):\n{self.log_tail()}"
        )
