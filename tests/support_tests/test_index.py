"""Self-tests of ``tests.support.index``: a PEP 503 index on loopback for pip and Poetry."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import urllib.error
import urllib.request

from typing import TYPE_CHECKING

import pytest
import tomlkit

from tests.support.distributions import build_sdist
from tests.support.distributions import build_wheel
from tests.support.index import PackageIndex
from tests.support.index import normalize_name
from tests.support.index import project_of
from tests.support.poetry_cli import POETRY
from tests.support.poetry_cli import clean_env


if TYPE_CHECKING:
    from pathlib import Path


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, auth: tuple[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` without any proxy: status, headers and body (errors included)."""
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with _OPENER.open(request, timeout=10) as response:
            return int(response.status), dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code), dict(error.headers), error.read()


def make_dists(directory: Path) -> dict[str, str]:
    """``alpha`` 1.0 (requires ``beta-pkg``) and ``beta_pkg`` 2.0: file name -> sha256."""
    files = [
        build_wheel(directory, "alpha", "1.0", requires=("beta-pkg>=2",)),
        build_wheel(directory, "beta_pkg", "2.0"),
    ]
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def poetry_lock(
    project: Path, index_url: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Write a non-package project depending on ``alpha`` from ``index_url`` and lock it."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(
        f"""\
[tool.poetry]
package-mode = false

[tool.poetry.dependencies]
python = ">=3.10,<4"
alpha = "1.0"

[[tool.poetry.source]]
name = "local"
url = "{index_url}"
priority = "primary"
""",
        encoding="utf-8",
    )
    return subprocess.run(
        [str(POETRY), "lock", "--no-plugins", "--no-ansi"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def locked_files(project: Path) -> dict[str, dict[str, str]]:
    """Locked package name -> {file name: hash} from ``poetry.lock``."""
    lock = tomlkit.loads((project / "poetry.lock").read_text(encoding="utf-8")).unwrap()
    return {
        package["name"]: {entry["file"]: entry["hash"] for entry in package["files"]}
        for package in lock["package"]
    }


def test_names() -> None:
    """Project names come from wheel and sdist file names, normalized per PEP 503."""
    assert normalize_name("My_Pkg.Two--x") == "my-pkg-two-x"
    assert project_of("my_pkg-1.0-py3-none-any.whl") == "my-pkg"
    assert project_of("My.Pkg-1.0.tar.gz") == "my-pkg"
    assert project_of("my_pkg-1.0-2-cp311-cp311-win_amd64.whl") == "my-pkg"
    assert project_of("README.txt") is None


def test_pages_hashes_and_files(tmp_path: Path) -> None:
    """The root and project pages link every file with its sha256, and the files are served."""
    dists = tmp_path / "dists"
    hashes = make_dists(dists)
    with PackageIndex(dists, requires_python={"alpha-1.0-py3-none-any.whl": ">=3.10"}) as index:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/simple/", index.url)
        status, _, body = fetch(index.url)
        assert status == 200
        assert 'href="alpha/"' in body.decode()
        assert 'href="beta-pkg/"' in body.decode()

        status, headers, body = fetch(index.url + "alpha/")
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        page = body.decode()
        digest = hashes["alpha-1.0-py3-none-any.whl"]
        assert f'href="../../files/alpha-1.0-py3-none-any.whl#sha256={digest}"' in page
        assert 'data-requires-python="&gt;=3.10"' in page

        status, _, body = fetch(index.url + "Beta_Pkg/")
        assert status == 200
        assert "beta_pkg-2.0-py3-none-any.whl" in body.decode()

        status, _, body = fetch(index.file_url("beta_pkg-2.0-py3-none-any.whl"))
        assert status == 200
        assert hashlib.sha256(body).hexdigest() == hashes["beta_pkg-2.0-py3-none-any.whl"]

        assert fetch(index.url + "missing/")[0] == 404
        assert fetch(index.base_url + "/files/../dists/alpha-1.0-py3-none-any.whl")[0] == 404
        assert all(seen.authorized for seen in index.requests)


def test_files_added_after_start_appear(tmp_path: Path) -> None:
    """A file written after start is listed on the next request."""
    dists = tmp_path / "dists"
    dists.mkdir()
    with PackageIndex(dists) as index:
        assert "late" not in fetch(index.url)[2].decode()
        build_sdist(dists, "late", "0.1")
        assert 'href="late/"' in fetch(index.url)[2].decode()
        assert "late-0.1.tar.gz#sha256=" in fetch(index.url + "late/")[2].decode()


def test_basic_auth(tmp_path: Path) -> None:
    """With credentials, requests lacking them get 401 and a challenge; the log tells which."""
    dists = tmp_path / "dists"
    make_dists(dists)
    with PackageIndex(dists, username="ci", password="s3cret-pw") as index:
        status, headers, _ = fetch(index.url)
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="index"'
        assert fetch(index.url, auth=("ci", "wrong"))[0] == 401
        assert fetch(index.url, auth=("ci", "s3cret-pw"))[0] == 200
        assert fetch(index.file_url("alpha-1.0-py3-none-any.whl"))[0] == 401
        seen = index.requests
        assert [request.authorized for request in seen] == [False, False, True, False]
        assert seen[0].path == "/simple/"
        assert "s3cret-pw" not in repr(seen) + repr(vars(index))
        index.clear_requests()
        assert index.requests == []


def test_pip_installs_from_index(tmp_path: Path) -> None:
    """pip resolves and installs a wheel and its requirement from the index alone."""
    dists = tmp_path / "dists"
    make_dists(dists)
    site = tmp_path / "site"
    with PackageIndex(dists) as index:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--index-url", index.url),
                *("--target", str(site), "alpha==1.0"),
            ],
            env=clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        paths = {request.path for request in index.requests}
    assert (site / "alpha" / "__init__.py").is_file()
    assert (site / "beta_pkg" / "__init__.py").is_file()
    assert {"/simple/alpha/", "/simple/beta-pkg/"} <= paths


@pytest.mark.slow
def test_poetry_locks_against_index(tmp_path: Path) -> None:
    """Poetry locks a dependency and its requirement from the index, with their sha256."""
    dists = tmp_path / "dists"
    hashes = make_dists(dists)
    with PackageIndex(dists) as index:
        done = poetry_lock(tmp_path / "project", index.url, clean_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert locked_files(tmp_path / "project") == {
        "alpha": {"alpha-1.0-py3-none-any.whl": "sha256:" + hashes["alpha-1.0-py3-none-any.whl"]},
        "beta-pkg": {
            "beta_pkg-2.0-py3-none-any.whl": "sha256:" + hashes["beta_pkg-2.0-py3-none-any.whl"]
        },
    }


@pytest.mark.slow
def test_poetry_locks_against_authenticated_index(tmp_path: Path) -> None:
    """Poetry locks against the authenticated index with POETRY_HTTP_BASIC_* and fails without."""
    dists = tmp_path / "dists"
    hashes = make_dists(dists)
    with PackageIndex(dists, username="ci", password="s3cret-pw") as index:
        refused = poetry_lock(tmp_path / "refused", index.url, clean_env(tmp_path / "a"))
        assert refused.returncode != 0
        assert not (tmp_path / "refused" / "poetry.lock").exists()
        assert not any(request.authorized for request in index.requests)

        env = clean_env(
            tmp_path / "b",
            POETRY_HTTP_BASIC_LOCAL_USERNAME="ci",
            POETRY_HTTP_BASIC_LOCAL_PASSWORD="s3cret-pw",
        )
        index.clear_requests()
        done = poetry_lock(tmp_path / "project", index.url, env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert any(request.authorized for request in index.requests)
    locked = locked_files(tmp_path / "project")
    assert locked["alpha"] == {
        "alpha-1.0-py3-none-any.whl": "sha256:" + hashes["alpha-1.0-py3-none-any.whl"]
    }
    assert locked["beta-pkg"] == {
        "beta_pkg-2.0-py3-none-any.whl": "sha256:" + hashes["beta_pkg-2.0-py3-none-any.whl"]
    }
