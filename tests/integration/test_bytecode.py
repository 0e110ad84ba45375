"""Bytecode in the image, made by the base's own CPython: what a test job meets in a container.

The push runs with no engine; the engine then pulls the image and runs it with no network: every
module of the dependencies, of Poetry and of the standard library (the base ships none of its
pycs) has a valid checked hash-based pyc for the image's interpreter, importing them writes
nothing, and a base whose interpreter cannot run on this host is refused before anything is
pushed.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
import time

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import MARKUPSAFE
from tests.integration.conftest import lock
from tests.integration.conftest import write_project
from tests.integration.test_push import engine_free
from tests.support.base_images import push_base_image
from tests.support.poetry_cli import run_poetry
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

# Run in the image: every .py under the venvs and the standard library, its pyc checked as the
# import system checks a checked hash-based pyc (magic, flags, the source's hash), and the
# modules that do not compile told apart from those that lack a pyc.
CHECK_PYCS = """
import importlib.util, json, marshal, os, sys, sysconfig
roots = ["/opt/venv/lib", "/opt/poetry/lib", sysconfig.get_paths()["stdlib"]]
report = {"checked": 0, "missing": [], "bad": []}
for root in roots:
    for directory, names, files in os.walk(root):
        names[:] = [n for n in names if n not in ("__pycache__", "site-packages")] \\
            if root.endswith("python3.11") else [n for n in names if n != "__pycache__"]
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            if not os.path.isfile(path):
                continue
            source = open(path, "rb").read()
            pyc = importlib.util.cache_from_source(path)
            if not os.path.exists(pyc):
                try:
                    compile(source, path, "exec", dont_inherit=True)
                except (SyntaxError, ValueError):
                    continue  # what does not compile gets no pyc, as with pip
                report["missing"].append(path)
                continue
            data = open(pyc, "rb").read()
            ok = (data[:4] == importlib.util.MAGIC_NUMBER
                  and int.from_bytes(data[4:8], "little") == 3
                  and data[8:16] == importlib.util.source_hash(source))
            code = marshal.loads(data[16:])
            if not ok or code.co_filename != path:
                report["bad"].append(path)
            report["checked"] += 1
import alpha, beta, markupsafe, markupsafe._speedups, json, email
print(json.dumps(report))
"""
IMPORTS = "import alpha, beta, markupsafe, email.parser, asyncio"


@pytest.fixture(scope="module")
def image(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    registry: Registry,
    module_env: dict[str, str],
    markupsafe: None,
    docker_client: Any,
) -> str:
    """An image with bytecode (the default), pushed with no engine and the module's cache,
    pulled by the engine."""
    where = tmp_path_factory.mktemp("bytecode")
    project = write_project(
        where / "compiled",
        index_url=index.url,
        dependencies=f'"alpha (==1.0)", "{MARKUPSAFE}"',
        table=f'repository = "{registry.host}/bytecode/ci-image"\nbase = "{BASE_IMAGE}"',
    )
    lock(project, module_env)
    result = run_poetry(project, "image", "push", env=engine_free(module_env, where))
    assert result.returncode == 0, result.stderr
    reference = result.stdout.strip()
    docker_client.images.pull(reference)
    return reference


def test_every_module_has_a_valid_pyc_in_a_read_only_container(
    image: str, docker_client: Any
) -> None:
    """Read-only root file system, no network: each .py of the dependencies, of Poetry and of
    the standard library has its checked pyc for CPython 3.11, and every one imports."""
    output = docker_client.containers.run(
        image,
        ["python", "-c", CHECK_PYCS],
        remove=True,
        network_mode="none",
        read_only=True,
        stderr=True,
    )
    report = json.loads(bytes(output).decode().strip().splitlines()[-1])
    assert report["missing"] == []
    assert report["bad"] == []
    assert report["checked"] > 1500  # the standard library some 660 modules, Poetry's some 1200


def test_importing_writes_nothing(image: str, docker_client: Any) -> None:
    """The first imports of a fresh container find their bytecode: no pyc is written."""
    container = docker_client.containers.create(
        image,
        [
            "sh",
            "-c",
            f"python -c '{IMPORTS}'"
            " && /opt/poetry/bin/python -c 'import poetry.console.application'"
            " && poetry --version",
        ],
        network_mode="none",
    )
    try:
        container.start()
        assert container.wait(timeout=120)["StatusCode"] == 0, container.logs().decode()
        changed = [item["Path"] for item in container.diff() or []]
    finally:
        container.remove(force=True)
    assert [path for path in changed if path.endswith(".pyc") or "__pycache__" in path] == []


IA64 = 50  # ELF e_machine of an architecture QEMU user emulation does not run


def elf(machine: int, interpreter: bytes = b"") -> bytes:
    """A 64-bit big-endian ELF header for `machine`, naming `interpreter` (PT_INTERP) if any."""
    phnum = 1 if interpreter else 0
    header = b"\x7fELF\x02\x02\x01" + bytes(9)
    header += struct.pack(">HHIQQQIHHHHHH", 2, machine, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
    if interpreter:
        offset = 64 + 56
        header += struct.pack(
            ">IIQQQQQQ", 3, 4, offset, 0, 0, len(interpreter), len(interpreter), 1
        )
        header += interpreter
    return header


def test_a_base_whose_python_cannot_run_here_is_refused_before_any_push(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """A linux/amd64 base whose python3.11 is built for IA-64 (QEMU has no emulator for it):
    one message with the way out, exit 2, no traceback, and no tag in the registry."""
    files = {
        "usr/bin/python3.11": elf(IA64, b"/lib/ld-linux-ia64.so.2\0"),
        "lib/ld-linux-ia64.so.2": elf(IA64),
        "lib/ia64-linux-gnu/libc.so.6": b"GNU C Library stable release version 2.36.\n",
        "var/lib/dpkg/status": (
            b"Package: python3.11-minimal\nStatus: install ok installed\nVersion: 3.11.2-6\n\n"
        ),
    }
    rootfs = tmp_path / "foreign.tar"
    with tarfile.open(rootfs, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    base = push_base_image(
        registry.host, "foreign/python", "3.11-bookworm", {"linux/amd64": rootfs}
    )
    project = write_project(
        tmp_path / "foreign",
        index_url=index.url,
        dependencies='"beta (==2.0)"',
        table=f'repository = "{registry.host}/foreign/ci-image"\nbase = "{base.reference}"\n'
        "poetry = false",
    )
    lock(project, tool_env)
    result = run_poetry(project, "image", "push", env=engine_free(tool_env, tmp_path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "Sending" not in result.stderr
    message = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert message == [
        f"Error: The Python of the base image {base.reference} for linux/amd64 "
        "(/usr/bin/python3.11) cannot run on this host, and the image's bytecode must be "
        "compiled by it: it is built for ia64 and this host is x86_64, with no "
        "qemu-ia64-static to run it (Exec format error)."
    ]
    assert result.stderr.rstrip().endswith(
        'or set bytecode = "off" in [tool.poetry-ci-image] '
        "(or --bytecode off) for an image without bytecode."
    )
    tag = run_poetry(project, "image", "tag", env=tool_env).stdout.strip().rsplit(":", 1)[1]
    assert manifest_status(registry.host, "foreign/ci-image", tag) == 404
