"""Self-tests of ``tests.support.distributions``: real, installable, reproducible archives."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile

from typing import TYPE_CHECKING

from tests.support.distributions import build_sdist
from tests.support.distributions import build_wheel
from tests.support.distributions import expand_tags


if TYPE_CHECKING:
    from pathlib import Path


def pip_env() -> dict[str, str]:
    """The environment for a pip subprocess: no pip config or PIP_* settings, no proxy."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pip ARGS`` quietly in a clean environment; fail with its output."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        env=pip_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def imported_version(site: Path, module: str) -> str:
    """The ``__version__`` of ``module`` imported from the directory ``site`` alone."""
    code = f"import {module}, sys; sys.stdout.write({module}.__version__)"
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": str(site), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_wheel_layout_and_record(tmp_path: Path) -> None:
    """A wheel has the PEP 427 name, METADATA, WHEEL and a RECORD whose hashes and sizes hold."""
    wheel = build_wheel(tmp_path, "My.Pkg", "1.0", requires=("other>=2", "third; os_name=='nt'"))
    assert wheel.name == "my_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "my_pkg/__init__.py" in names
        assert '__version__ = "1.0"' in archive.read("my_pkg/__init__.py").decode()
        metadata = archive.read("my_pkg-1.0.dist-info/METADATA").decode().splitlines()
        assert metadata[:3] == ["Metadata-Version: 2.1", "Name: My.Pkg", "Version: 1.0"]
        assert "Requires-Dist: other>=2" in metadata
        assert "Requires-Dist: third; os_name=='nt'" in metadata
        wheel_file = archive.read("my_pkg-1.0.dist-info/WHEEL").decode().splitlines()
        assert "Root-Is-Purelib: true" in wheel_file
        assert [line for line in wheel_file if line.startswith("Tag:")] == ["Tag: py3-none-any"]
        rows = archive.read("my_pkg-1.0.dist-info/RECORD").decode().splitlines()
        recorded = {row.split(",")[0] for row in rows}
        assert recorded == set(names)
        for row in rows:
            path, digest, size = row.split(",")
            if path.endswith("RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = archive.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode()
            assert int(size) == len(data)


def test_wheel_compressed_platform_tags(tmp_path: Path) -> None:
    """A platform wheel keeps its compressed tag set in the name and lists each tag in WHEEL."""
    tags = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
    wheel = build_wheel(tmp_path, "native", "2.0", tags=tags)
    assert wheel.name == f"native-2.0-{tags}.whl"
    with zipfile.ZipFile(wheel) as archive:
        lines = archive.read("native-2.0.dist-info/WHEEL").decode().splitlines()
    assert "Root-Is-Purelib: false" in lines
    assert [line for line in lines if line.startswith("Tag:")] == [
        "Tag: cp311-cp311-manylinux_2_17_x86_64",
        "Tag: cp311-cp311-manylinux2014_x86_64",
    ]
    assert expand_tags("cp311-cp311-win_amd64") == ["cp311-cp311-win_amd64"]
    assert len(expand_tags("py2.py3-none-any")) == 2


def test_wheel_extra_files(tmp_path: Path) -> None:
    """Extra files given as text or bytes land in the wheel and in its RECORD."""
    wheel = build_wheel(tmp_path, "extra", "1.0", files={"extra/data.txt": "x", "extra/b": b"\0"})
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("extra/data.txt") == b"x"
        assert archive.read("extra/b") == b"\0"
        assert "extra/b," in archive.read("extra-1.0.dist-info/RECORD").decode()


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    """Building twice gives byte-identical wheels and sdists, so identical sha256."""
    for attempt in ("a", "b"):
        build_wheel(tmp_path / attempt, "same", "1.0", requires=("dep",))
        build_sdist(tmp_path / attempt, "same", "1.0", requires=("dep",))
    for name in ("same-1.0-py3-none-any.whl", "same-1.0.tar.gz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_sdist_layout(tmp_path: Path) -> None:
    """An sdist has the PEP 625 name, one top directory, PKG-INFO and an in-tree backend."""
    sdist = build_sdist(tmp_path, "My-Pkg", "1.0", requires=("dep>=1",))
    assert sdist.name == "my_pkg-1.0.tar.gz"
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
        assert names == {
            "my_pkg-1.0/PKG-INFO",
            "my_pkg-1.0/pyproject.toml",
            "my_pkg-1.0/backend.py",
            "my_pkg-1.0/my_pkg/__init__.py",
        }
        pyproject = archive.extractfile("my_pkg-1.0/pyproject.toml")
        assert pyproject is not None
        text = pyproject.read().decode()
    assert "requires = []" in text
    assert 'backend-path = ["."]' in text


def test_wheels_install_with_pip_and_import(tmp_path: Path) -> None:
    """pip installs a wheel and the wheel it requires from a find-links directory, no index."""
    dists = tmp_path / "dists"
    build_wheel(dists, "top-pkg", "1.2", requires=("base-pkg>=0.5",))
    build_wheel(dists, "base_pkg", "0.5")
    site = tmp_path / "site"
    pip("install", "--no-index", "--find-links", str(dists), "--target", str(site), "top-pkg==1.2")
    assert imported_version(site, "top_pkg") == "1.2"
    assert imported_version(site, "base_pkg") == "0.5"


def test_sdist_builds_with_pip_without_index(tmp_path: Path) -> None:
    """pip's isolated build turns the sdist into a pure wheel with no index, and it installs."""
    sdist = build_sdist(tmp_path / "dists", "from-source", "3.1", requires=("nothing-needed",))
    wheels = tmp_path / "wheels"
    pip("wheel", "--no-index", "--no-deps", "--wheel-dir", str(wheels), str(sdist))
    built = sorted(path.name for path in wheels.iterdir())
    assert built == ["from_source-3.1-py3-none-any.whl"]
    with zipfile.ZipFile(wheels / built[0]) as archive:
        metadata = archive.read("from_source-3.1.dist-info/METADATA").decode()
    assert "Requires-Dist: nothing-needed" in metadata
    site = tmp_path / "site"
    pip("install", "--no-index", "--no-deps", "--target", str(site), str(wheels / built[0]))
    assert imported_version(site, "from_source") == "3.1"
