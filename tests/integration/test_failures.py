"""What a user meets when things go wrong or get odd, run for real: an interrupted push, what a
run leaves in the temporary directory, wheels that install the same files, secrets, an index
that went away.
"""

from __future__ import annotations

import gzip
import signal
import subprocess

from typing import TYPE_CHECKING
from typing import Any

import pytest

from poetry_ci_image.poetry.builds import RECIPE
from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import lock
from tests.integration.conftest import run_in_image
from tests.integration.conftest import write_project
from tests.integration.test_build_edges import git_repository
from tests.integration.test_push import engine_free
from tests.support.distributions import build_sdist
from tests.support.distributions import build_wheel
from tests.support.index import PackageIndex
from tests.support.poetry_cli import POETRY
from tests.support.poetry_cli import run_poetry
from tests.support.proxy import Fault
from tests.support.proxy import RegistryProxy
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_ctrl_c_says_so_exits_130_and_leaves_no_tag_and_no_files(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """SIGINT while the push waits for the registry to take its manifest (the registry holds
    it, so the push cannot finish first): a message, exit 130, no --dotenv file and nothing
    added to $GITHUB_OUTPUT, no tag in the registry, nothing in the temporary directory; the
    next push finishes the job and hands the reference on."""
    with RegistryProxy(registry.host) as proxy:
        project = write_project(
            tmp_path / "slow",
            index_url=index.url,
            dependencies='"beta (==2.0)"',
            table=f'repository = "{proxy.host}/slow/ci-image"\nbase = "{BASE_IMAGE}"\n'
            "poetry = false",
        )
        lock(project, tool_env)
        tagged = run_poetry(project, "image", "tag", env=tool_env)
        assert tagged.returncode == 0, tagged.stderr
        reference = tagged.stdout.strip()
        tag = reference.rsplit(":", 1)[1]
        temporary = tmp_path / "tmp"
        temporary.mkdir()
        dotenv = tmp_path / "ci-image.env"
        github = tmp_path / "github-output"
        github.write_text("earlier=step\n")
        env = {
            **engine_free(tool_env, tmp_path),
            "TMPDIR": str(temporary),
            "GITHUB_OUTPUT": str(github),
        }
        outputs = ["--dotenv", str(dotenv), "--github-output"]
        # Should the push not stop, SIGABRT then makes it print where each thread is.
        env_held = {**env, "PYTHONFAULTHANDLER": "1"}
        proxy.fail(Fault("hold", method="PUT", path="/manifests/"))
        job = subprocess.Popen(
            [str(POETRY), "--no-ansi", "image", "push", *outputs],
            cwd=project,
            env=env_held,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proxy.holding.wait(timeout=180), "the push never reached its manifest"
            job.send_signal(signal.SIGINT)
            try:
                out, err = job.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                job.send_signal(signal.SIGABRT)
                _, where = job.communicate(timeout=30)
                pytest.fail(f"the push did not stop within 60 s of SIGINT; it was at:\n{where}")
        finally:
            job.kill()
            proxy.release()
        assert job.returncode == 130, err
        assert err.endswith(
            "Error: Interrupted. Nothing was left half-done: the registry's tag is written last, "
            "once every blob it names is there, and the --dotenv and --github-output files after "
            "it.\nRun the command again to finish the work.\n"
        )
        assert out == ""
        assert not dotenv.exists()
        assert github.read_text() == "earlier=step\n"
        assert manifest_status(registry.host, "slow/ci-image", tag) == 404
        assert list(temporary.iterdir()) == []

        proxy.clear_faults()
        again = run_poetry(project, "image", "push", *outputs, env=env)
        assert again.returncode == 0, again.stderr
        assert manifest_status(registry.host, "slow/ci-image", tag) == 200
        assert dotenv.read_text() == f"CI_IMAGE={reference}\n"
        assert github.read_text() == f"earlier=step\nimage={reference}\ntag={tag}\n"


def test_a_run_leaves_nothing_in_the_temporary_directory(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """A push with an sdist and a git dependency built on the host, and a failing one: the
    temporary directory holds as many entries after as before (none)."""
    repository = git_repository(tmp_path / "gitpkg")
    project = write_project(
        tmp_path / "built",
        index_url=index.url,
        dependencies=f'"gitpkg @ git+file://{repository}@main", "delta (>=1)"',
        table=f'repository = "{registry.host}/built/ci-image"\nbase = "{BASE_IMAGE}"\n'
        "poetry = false",
    )
    lock(project, tool_env)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {
        **engine_free(tool_env, tmp_path),
        "TMPDIR": str(temporary),
        "POETRY_CACHE_DIR": str(tmp_path / "cache"),  # nothing built before, all built here
    }
    result = run_poetry(project, "-v", "image", "push", env=env)
    assert result.returncode == 0, result.stderr
    assert "Building a wheel of delta 1.0 from delta-1.0.tar.gz" in result.stderr
    assert list(temporary.iterdir()) == []

    failing = write_project(
        tmp_path / "failing",
        index_url=index.url,
        dependencies='"compiled (==1.0)"',
        # A target libc older than this host's: the platform wheel built here is refused.
        table=f'repository = "{registry.host}/failing/ci"\nbase = "{BASE_IMAGE}"\npoetry = false'
        '\nlibc = "glibc 2.31"',
    )
    lock(failing, tool_env)
    refused = run_poetry(failing, "image", "push", env=env)
    assert refused.returncode == 2
    assert "platform-specific wheel" in refused.stderr
    assert list(temporary.iterdir()) == []


def test_wheels_that_install_the_same_files(
    tmp_path: Path,
    index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
    docker_client: Any,
) -> None:
    """Shared identical files land once and quietly; different ones are reported, naming both
    packages: the image holds the owner's copy (jsbeautifier/ is jsbeautifier's, though
    zz-beautify, which bundles an older copy, sorts later), else the later name's."""
    files = index.files_dir
    shared = {"jsbeautifier/core.py": "CORE = 1\n"}
    build_wheel(files, "jsbeautifier", "2.0.1", files=shared)
    build_wheel(files, "cssbeautifier", "2.0.1", files=shared)
    build_wheel(files, "zz-beautify", "1.0", files={"jsbeautifier/core.py": "CORE = 0\n"})
    build_wheel(files, "zopea", "1.0", files={"zopens/__init__.py": "# zopea's\n"})
    build_wheel(files, "zopeb", "1.0", files={"zopens/__init__.py": "# zopeb's\n"})
    project = write_project(
        tmp_path / "overlap",
        index_url=index.url,
        dependencies='"jsbeautifier", "cssbeautifier", "zz-beautify", "zopea", "zopeb"',
        table=f'repository = "{registry.host}/overlap/ci"\nbase = "{BASE_IMAGE}"\npoetry = false',
    )
    lock(project, tool_env)
    result = run_poetry(project, "image", "push", env=engine_free(tool_env, tmp_path))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert warnings == [
        "Warning: zopea and zopeb both install zopens/__init__.py, with different content: the "
        "image holds zopeb's (neither owns the import name, and the later name wins; `poetry "
        "install` installs them at once, so which copy it leaves varies).",
        "Warning: zz-beautify and jsbeautifier both install jsbeautifier/core.py, with different "
        "content: the image holds jsbeautifier's (jsbeautifier is jsbeautifier's own import "
        "name; `poetry install` installs them at once, so which copy it leaves varies).",
    ]
    reference = result.stdout.strip()
    docker_client.images.pull(reference)
    site = "/opt/venv/lib/python3.11/site-packages"
    output = run_in_image(
        docker_client,
        reference,
        [
            "sh",
            "-c",
            f"cat {site}/zopens/__init__.py && python -c 'import jsbeautifier.core as c; "
            "print(c.CORE)'",
        ],
    )
    assert output == "# zopeb's\n1\n"


def test_index_credentials_are_in_no_blob_of_the_image(
    tmp_path: Path,
    index: PackageIndex,
    private_index: PackageIndex,
    tool_env: dict[str, str],
    private_password: str,
) -> None:
    """The private index's password is in no layer, config or manifest (an OCI layout, read
    whole), nor in the log."""
    project = write_project(
        tmp_path / "vault",
        name="vault",
        index_url=index.url,
        private_url=private_index.url,
        dependencies='"secretpkg (==1.0)"',
        poetry_dependencies='secretpkg = { source = "private" }',
        table=f'repository = "registry.example/vault/ci-image"\nbase = "{BASE_IMAGE}"',
    )
    lock(project, tool_env)
    layout = tmp_path / "layout"
    result = run_poetry(project, "-vvv", "image", "build", "--output", str(layout), env=tool_env)
    assert result.returncode == 0, result.stderr
    assert private_password not in result.stdout + result.stderr
    found_package = False
    for blob in (layout / "blobs" / "sha256").iterdir():
        data = blob.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        assert private_password.encode() not in data, blob.name
        found_package = found_package or b"secretpkg" in data
    assert found_package  # the search did look at the layers that hold it


def test_an_index_that_went_away_is_named_with_the_cause(
    tmp_path: Path, registry: Registry, tool_env: dict[str, str]
) -> None:
    """The lock's index stops answering: after Poetry's own retries, one message names the
    source, the package and the cause, and nothing blames the Poetry version."""
    files = tmp_path / "files"
    build_wheel(files, "lonely", "1.0")
    with PackageIndex(files) as gone:
        project = write_project(
            tmp_path / "gone",
            index_url=gone.url,
            dependencies='"lonely (==1.0)"',
            table=f'repository = "{registry.host}/gone/ci-image"\nbase = "{BASE_IMAGE}"\n'
            "poetry = false",
        )
        lock(project, tool_env)
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    result = run_poetry(project, "image", "push", env=env)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.endswith(
        "\nError: The package index of source 'local' could not list lonely 1.0: connection "
        "refused (nothing listens at that address and port)\n"
        "Check the network and the credentials Poetry has for that source (`poetry config "
        "http-basic.<source>`, or POETRY_HTTP_BASIC_<SOURCE>_USERNAME and _PASSWORD).\n"
    )


COMPILER_ERROR = """\
In file included from Modules/LDAPObject.c:3:
Modules/common.h:15:10: fatal error: lber.h: No such file or directory
   15 | #include <lber.h>
      |          ^~~~~~~~
compilation terminated.
error: command '/usr/bin/gcc' failed with exit code 1
"""


def test_a_native_sdist_that_cannot_build_here_is_said_to_need_a_wheel(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """python-ldap's case: an sdist only, whose build needs headers the host lacks. `tag` warns
    of it; `push` says it has no wheel for the target, quotes the build's last lines without
    Poetry's markup and gives the ways out: exit 2, no traceback, no "report it"."""
    build_sdist(index.files_dir, "ldapish", "3.4.4", fails_with=COMPILER_ERROR)
    project = write_project(
        tmp_path / "native",
        index_url=index.url,
        dependencies='"ldapish (==3.4.4)"',
        table=f'repository = "{registry.host}/native/ci"\nbase = "{BASE_IMAGE}"\npoetry = false',
    )
    lock(project, tool_env)
    target = "CPython 3.11 on linux/amd64 (glibc 2.36)"
    tag = run_poetry(project, "image", "tag", env=tool_env)
    assert tag.returncode == 0, tag.stderr
    assert tag.stderr == (
        f"Warning: ldapish 3.4.4 has no wheel for {target}: `poetry image push` builds one from "
        "its sdist (ldapish-3.4.4.tar.gz) on the host: pure-Python code builds anywhere; "
        "compiled code only where the deps job runs in the base image with its build packages "
        "(the recipe for compiled dependencies), or use a version (or an index) with a wheel "
        "for the target.\n"
    )
    pushed = run_poetry(project, "image", "push", env=engine_free(tool_env, tmp_path))
    assert pushed.returncode == 2
    error = pushed.stderr[pushed.stderr.index("Error: ") :]
    assert error.startswith(
        f"Error: ldapish 3.4.4 has no wheel for {target}, and building one from its sdist "
        "(ldapish-3.4.4.tar.gz) on this host failed. The build's output ends:\n"
    )
    assert "  compilation terminated.\n" in error
    assert "  error: command '/usr/bin/gcc' failed with exit code 1\n" in error
    # This host builds for the target: what is missing is the build's packages, and the recipe
    # for compiled dependencies is where to install them.
    assert error.endswith(
        "Install the packages its build needs where the deps job runs: the recipe for compiled "
        f"dependencies ({RECIPE}) runs it in the base image with the -dev packages (and puts "
        "their run-time packages in system-packages); or use a version of ldapish (or a package "
        f"index) that has a wheel for {target}.\n"
    )
    for wrong in ("Traceback", "report it", "<warning>", "<info>", "<c1>", "may not be supported"):
        assert wrong not in pushed.stderr
