"""What the seam (poetry_ci_image/poetry/) relies on in Poetry's internals, one test per internal.

Poetry's internals may change in any minor release; these tests say, for the running Poetry,
that each one still has the signature and the behaviour the seam uses. `.ci/poetry-matrix` runs
them under every supported Poetry minor, so an upgrade that breaks the seam fails here, by name,
rather than as a wrong plan or an "unsupported Poetry" message in a user's CI.
"""

from __future__ import annotations

import inspect
import subprocess

from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.support.distributions import build_sdist
from tests.support.distributions import build_wheel
from tests.support.distributions import sha256_of
from tests.support.index import PackageIndex
from tests.support.projects import copy_project
from tests.support.projects import load_poetry


if TYPE_CHECKING:
    from poetry.poetry import Poetry


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.fixture
def poetry(tmp_path: Path) -> Poetry:
    return load_poetry(copy_project("base", tmp_path / "webapp"))


def test_factory_locates_the_pyproject_upwards(tmp_path: Path) -> None:
    """Factory.locate finds pyproject.toml in a parent, and raises RuntimeError when none is."""
    from poetry.core.factory import Factory

    project = copy_project("base", tmp_path / "webapp")
    (project / "src" / "deep").mkdir(parents=True)
    assert Factory.locate(project / "src" / "deep") == project / "pyproject.toml"
    with pytest.raises(RuntimeError):
        Factory.locate(Path("/"))


def test_application_knows_its_project_directory() -> None:
    """The application's project directory: public, or a private cached property (2.0, 2.1)."""
    from poetry.console.application import Application

    from poetry_ci_image.poetry.project import application_directory

    assert application_directory(Application()) == Path.cwd()


def test_config_and_locations() -> None:
    """Config.create().get('cache-dir') is a path; CONFIG_DIR is where config.toml lives."""
    from poetry.config.config import Config
    from poetry.locations import CONFIG_DIR

    assert Path(Config.create().get("cache-dir")).is_absolute()
    assert Path(CONFIG_DIR).is_absolute()


def test_package_and_groups(poetry: Poetry) -> None:
    """The root package's Python constraint, groups and extras, as the seam reads them."""
    from poetry.core.constraints.version import parse_constraint

    package = poetry.package
    assert package.python_constraint.allows_any(parse_constraint("~3.11"))
    assert isinstance(package.python_versions, str)
    assert set(package.dependency_group_names(include_optional=True)) == {"main", "dev", "docs"}
    assert package.has_dependency_group("docs")
    assert package.dependency_group("docs").is_optional()
    assert [str(extra) for extra in package.extras] == ["fast"]
    assert poetry.pyproject_path.name == "pyproject.toml"
    assert isinstance(poetry.pyproject.data, dict)


def test_locker_reads_the_lock_and_refuses_a_corrupt_one(poetry: Poetry) -> None:
    """is_locked, lock_data, locked_repository; a broken lock raises RuntimeError or ValueError."""
    locker = poetry.locker
    assert locker.is_locked()
    assert "metadata" in locker.lock_data
    names = {package.name for package in locker.locked_repository().packages}
    assert {"numpy", "requests"} <= names

    broken = poetry.pyproject_path.parent / "poetry.lock"
    broken.write_text("this is = = broken\n")
    fresh = load_poetry(broken.parent)
    with pytest.raises((RuntimeError, ValueError)):
        fresh.locker.lock_data  # noqa: B018


def test_installer_runs_a_recording_executor(poetry: Poetry) -> None:
    """Installer(io, env, package, locker, pool, config, installed=, executor=) hands the
    executor operations with `package`, `job_type`, `skipped` and `priority`."""
    from cleo.io.null_io import NullIO
    from packaging.utils import canonicalize_name
    from poetry.installation.installer import Installer
    from poetry.repositories.installed_repository import InstalledRepository

    from poetry_ci_image.poetry.target_env import TargetEnv
    from poetry_ci_image.settings.target import Libc
    from poetry_ci_image.settings.target import Target

    seen: list[Any] = []

    class Recorder:
        enabled = True

        def execute(self, operations: list[Any]) -> int:
            seen.extend(operations)
            return 0

        def dry_run(self, dry_run: bool = True) -> Recorder:
            return self

        def verbose(self, verbose: bool = True) -> Recorder:
            return self

        def disable(self) -> Recorder:
            return self

    env = TargetEnv(Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 36))))
    installer = Installer(
        NullIO(),
        env,
        poetry.package,
        poetry.locker,
        poetry.pool,
        poetry.config,
        installed=InstalledRepository(),
        executor=Recorder(),  # type: ignore[arg-type]
    )
    installer.only_groups([canonicalize_name("main")])
    installer.extras([])
    assert installer.run() == 0
    installed = {op.package.name for op in seen if not op.skipped}
    assert "numpy" in installed
    assert {op.job_type for op in seen} == {"install"}
    assert all(isinstance(op.priority, int) for op in seen)


def test_mock_env_takes_the_targets_markers_and_tags() -> None:
    """MockEnv(version_info, platform, platform_machine, supported_tags) with overridden
    get_marker_env and get_supported_tags reports the target, not the host."""
    from poetry.utils.env import MockEnv

    assert {"version_info", "platform", "platform_machine", "supported_tags"} <= set(
        parameters(MockEnv.__init__)
    )
    from poetry_ci_image.poetry.target_env import TargetEnv
    from poetry_ci_image.settings.target import Libc
    from poetry_ci_image.settings.target import Target

    env = TargetEnv(Target((3, 12, 0), "linux/arm64", Libc("musl", (1, 2))))
    assert env.marker_env["platform_machine"] == "aarch64"
    assert env.marker_env["python_version"] == "3.12"
    assert str(env.supported_tags[0]).startswith("cp312-cp312-")


def test_chooser_picks_from_locked_files_and_says_when_none_fits(poetry: Poetry) -> None:
    """Chooser(pool, env, config).choose_for(package) picks the target's wheel from the links a
    Repository subclass lists, and raises one of NO_CANDIDATES when none fits."""
    from poetry_ci_image.poetry.planner import LockedFilesChooser
    from poetry_ci_image.poetry.target_env import TargetEnv
    from poetry_ci_image.settings.target import Libc
    from poetry_ci_image.settings.target import Target

    numpy = next(p for p in poetry.locker.locked_repository().packages if p.name == "numpy")
    linux = TargetEnv(Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 36))))
    choice = LockedFilesChooser(poetry, linux, [numpy]).choose(numpy)
    assert choice is not None
    filename, digest = choice
    assert "cp311-cp311-manylinux" in filename
    assert digest.startswith("sha256:")

    from poetry.core.packages.package import Package

    windows_only = Package("winonly", "1.0")
    windows_only.files = [{"file": "winonly-1.0-py3-none-win_amd64.whl", "hash": "sha256:00"}]
    assert LockedFilesChooser(poetry, linux, [windows_only]).choose(windows_only) is None


def test_link_parses_a_hash_fragment() -> None:
    """Link('...#sha256=<hex>') gives the file name and the hash."""
    from poetry.core.packages.utils.link import Link

    link = Link("https://locked.invalid/beta-1.0-py3-none-any.whl#sha256=" + "ab" * 32)
    assert link.filename == "beta-1.0-py3-none-any.whl"
    assert link.hashes == {"sha256": "ab" * 32}


def test_download_through_the_artifact_cache(poetry: Poetry, tmp_path: Path) -> None:
    """Authenticator(config, io), the Downloader(url, dest, authenticator) and
    artifact_cache.get_cached_archive_for_link(link, strict=, download_func=) fetch a file."""
    from cleo.io.null_io import NullIO
    from poetry.core.packages.utils.link import Link
    from poetry.utils.authenticator import Authenticator

    from poetry_ci_image.poetry.fetch import _downloader_class

    wheel = build_wheel(tmp_path / "files", "beta", "1.0")
    downloader = _downloader_class()
    assert parameters(downloader)[:3] == ["url", "dest", "authenticator"] or parameters(downloader)[
        :3
    ] == ["url", "dest", "session"]
    authenticator = Authenticator(poetry.config, NullIO())
    with PackageIndex(tmp_path / "files") as index:
        link = Link(f"{index.file_url(wheel.name)}#sha256={sha256_of(wheel)}")

        def download(url: str, dest: Path) -> None:
            for _ in downloader(url, dest, authenticator).download_with_progress(chunk_size=4096):
                pass

        archive = poetry.pool.artifact_cache.get_cached_archive_for_link(
            link, strict=True, download_func=download
        )
    assert Path(archive).read_bytes() == wheel.read_bytes()


def test_pool_lookups(poetry: Poetry) -> None:
    """pool.repository raises IndexError on an unknown source; has_repository, repositories."""
    with pytest.raises((IndexError, ValueError)):
        poetry.pool.repository("no-such-source")
    assert not poetry.pool.has_repository("no-such-source")
    assert poetry.pool.repositories


def test_chef_builds_an_sdist_on_the_host(poetry: Poetry, tmp_path: Path) -> None:
    """Chef(artifact_cache, env, pool).prepare(archive, output_dir=) builds a wheel there."""
    from poetry.installation.chef import Chef
    from poetry.installation.chef import ChefError  # noqa: F401 (the seam catches it)
    from poetry.utils.env import EnvManager

    sdist = build_sdist(tmp_path / "files", "delta", "1.0")
    chef = Chef(poetry.pool.artifact_cache, EnvManager.get_system_env(naive=True), poetry.pool)
    wheel = Path(chef.prepare(sdist, output_dir=tmp_path / "out"))
    assert wheel.parent == tmp_path / "out"
    assert wheel.name == "delta-1.0-py3-none-any.whl"


def test_git_clones_a_revision(tmp_path: Path) -> None:
    """Git.clone(url=, source_root=, revision=) checks the revision out under source_root."""
    from poetry.vcs.git import Git

    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "README").write_text("v1\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    env["PATH"] = "/usr/bin:/bin"
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "v1"]):
        subprocess.run(["git", *command], cwd=origin, check=True, env=env)
    head = ["git", "rev-parse", "HEAD"]
    run = subprocess.run(head, cwd=origin, check=True, capture_output=True, text=True, env=env)
    revision = run.stdout.strip()
    repo = Git.clone(url=f"file://{origin}", source_root=tmp_path / "checkouts", revision=revision)
    assert Path(repo.path).is_relative_to(tmp_path / "checkouts")
    assert (Path(repo.path) / "README").read_text() == "v1\n"


def test_errors_the_seam_catches_exist() -> None:
    """The exception types the seam names are importable in this Poetry."""
    from poetry.console.exceptions import PoetryConsoleError
    from poetry.repositories.exceptions import PackageNotFoundError
    from poetry.repositories.exceptions import RepositoryError

    from poetry_ci_image.poetry.planner import NO_CANDIDATES

    assert issubclass(PoetryConsoleError, Exception)
    assert issubclass(RepositoryError, Exception)
    assert issubclass(PackageNotFoundError, Exception)
    assert RuntimeError in NO_CANDIDATES


def test_virtualenv_embeds_a_pip_for_the_target() -> None:
    """virtualenv's get_embed_wheel('pip', X.Y) gives a wheel: your own Dockerfile's pip."""
    from virtualenv.seed.wheels.embed import get_embed_wheel

    wheel = get_embed_wheel("pip", "3.11")
    assert wheel is not None
    assert Path(wheel.path).name.startswith("pip-")
