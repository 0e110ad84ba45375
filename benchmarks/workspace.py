"""The benchmark's working directory: Poetry venvs, working copies of the projects, environment.

Everything lives under benchmarks/work/ (ignored by git). The committed projects name the
placeholder index; their working copies name the index given by --index-url, in pyproject.toml
and poetry.lock, with content-hash recomputed by Poetry so that the lock stays fresh (the logic
of tests/fixtures/locks/generate.py, reused from there).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import tomlkit

from tests.fixtures.locks.generate import PLACEHOLDER_INDEX_URL
from tests.fixtures.locks.generate import Poetry
from tests.support.poetry_cli import clean_env

from benchmarks.timing import run


if TYPE_CHECKING:
    from collections.abc import Mapping


ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
PROJECTS = BENCHMARKS / "projects"
REQUIREMENTS = Path(".ci") / "requirements-dev.txt"  # in the plugin's source tree
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class _Directory:
    """A directory of the workspace, named by its path under the workspace's root."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __get__(self, workspace: Workspace, owner: type[Workspace]) -> Path:
        return workspace.root / self.path


@dataclass(frozen=True)
class Workspace:
    root: Path  # benchmarks/work

    home = _Directory("home")  # Poetry's and pip's config, cache and data, a Docker config
    # Poetry's cache (where clean_env points it): Poetry's files, the plugin's plans, layers, wheels
    poetry_cache = _Directory("home/poetry-cache")
    pip_cache = _Directory("home/pip-cache")
    docker_config = _Directory("home/docker-config")
    projects = _Directory("projects")
    baseline = _Directory("baseline")
    profiles = _Directory("profiles")
    registry = _Directory("registry")
    venvs = _Directory("venvs")
    kept_caches = _Directory("kept-caches")  # keep_poetry_cache's copies

    @property
    def host_caches(self) -> tuple[Path, ...]:
        """What "empty host caches" empties: Poetry's cache (the plugin's too) and pip's."""
        return (self.poetry_cache, self.pip_cache)

    def venv(self, name: str) -> Path:
        return self.venvs / name

    def prepare(self) -> None:
        for path in (self.home, self.projects, self.baseline, self.profiles):
            path.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.registry, ignore_errors=True)
        shutil.rmtree(self.kept_caches, ignore_errors=True)
        self.docker_config.mkdir(exist_ok=True)
        (self.docker_config / "config.json").write_text('{"auths": {}}\n')

    def fresh(self, name: str) -> Path:
        """An empty directory `name` of the workspace (what an earlier run left there goes)."""
        path = self.root / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def empty_host_caches(self) -> None:
        for path in self.host_caches:
            shutil.rmtree(path, ignore_errors=True)

    def empty_pip_cache(self) -> None:
        """A runner that keeps Poetry's cache between jobs, and nothing else."""
        shutil.rmtree(self.pip_cache, ignore_errors=True)

    def keep_poetry_cache(self, name: str) -> Path:
        """A copy of Poetry's cache as it is now, to give later runs the same start."""
        copy = self.kept_caches / name
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(self.poetry_cache, copy, symlinks=True)
        return copy

    def restore_poetry_cache(self, copy: Path) -> None:
        """Poetry's cache as `keep_poetry_cache` copied it (pip's cache emptied)."""
        shutil.rmtree(self.poetry_cache, ignore_errors=True)
        shutil.copytree(copy, self.poetry_cache, symlinks=True)
        self.empty_pip_cache()


def tool_env(workspace: Workspace, *, index_url: str, docker_host: str) -> dict[str, str]:
    """The environment of every measured command: isolated Poetry and pip, the bench engine.

    pip (which the plugin runs to fetch Poetry's own wheels) reads no configuration file and
    uses the index given by --index-url, like Poetry and like the baseline's build.
    """
    env = clean_env(
        workspace.home,
        DOCKER_HOST=docker_host,
        DOCKER_CONFIG=str(workspace.docker_config),
        DOCKER_BUILDKIT="0",  # the builder the plugin gets through the API: the same for both
        PIP_INDEX_URL=index_url,
        PIP_CACHE_DIR=str(workspace.pip_cache),
    )
    for name in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


# --------------------------------------------------------------------------- Poetry venvs


@dataclass(frozen=True)
class PoetryVenv:
    path: Path

    @property
    def poetry(self) -> Path:
        return self.path / "bin" / "poetry"

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def make_venv(
    workspace: Workspace, name: str, *, requirements: Path, plugin: Path | None
) -> PoetryVenv:
    """A venv with the project's pinned development set (Poetry included), and the plugin or not.

    Both venvs hold the same distributions but for the plugin, so that `poetry --version` in one
    and the other differs by the plugin only. The plugin is installed from `plugin` (a source
    tree) as a wheel, as users install it, on every run so that this code is measured.
    """
    venv = PoetryVenv(workspace.venv(name))
    stamp = venv.path / ".requirements-sha256"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not stamp.is_file() or stamp.read_text() != wanted:
        shutil.rmtree(venv.path, ignore_errors=True)
        _setup_run([sys.executable, "-m", "venv", str(venv.path)])
        _pip(venv, "install", "--require-hashes", "--no-deps", "-r", str(requirements))
        stamp.write_text(wanted)
    if plugin is not None:
        _pip(venv, "install", "--no-deps", "--no-build-isolation", "--force-reinstall", str(plugin))
    else:
        _pip(venv, "uninstall", "--yes", "poetry-ci-image")
    return venv


def _pip(venv: PoetryVenv, *args: str) -> None:
    _setup_run([str(venv.python), "-m", "pip", "--quiet", "--disable-pip-version-check", *args])


def _setup_run(argv: list[str]) -> None:
    """A setup command with the machine's own pip configuration (it is not measured)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    run(argv, cwd=ROOT, env=env)


# --------------------------------------------------------------------------- working copies


def working_copy(name: str, workspace: Workspace, *, index_url: str, poetry: PoetryVenv) -> Path:
    """benchmarks/projects/<name> with the placeholder index replaced by `index_url`."""
    source = PROJECTS / name
    destination = workspace.projects / name
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    for file in ("pyproject.toml", "poetry.lock"):
        text = (source / file).read_text(encoding="utf-8")
        if PLACEHOLDER_INDEX_URL not in text:
            raise SystemExit(f"{source / file} does not name the placeholder index")
        (destination / file).write_text(
            text.replace(PLACEHOLDER_INDEX_URL, index_url.rstrip("/")), encoding="utf-8"
        )
    rehash(destination, poetry)
    return destination


def rehash(project: Path, poetry: PoetryVenv) -> None:
    """Recompute content-hash for the project's pyproject.toml, as Poetry does, and check it."""
    locker = Poetry.at(str(poetry.poetry))
    content_hash, _ = locker.probe(project)
    old = read_lock(project)["metadata"]["content-hash"]
    lock_path = project / "poetry.lock"
    lock = lock_path.read_text(encoding="utf-8")
    lock_path.write_text(
        lock.replace(f'content-hash = "{old}"', f'content-hash = "{content_hash}"', 1),
        encoding="utf-8",
    )
    _, fresh = locker.probe(project)
    if fresh is not True:
        raise SystemExit(f"{project}: the working copy's lock is not fresh for Poetry")


def read_lock(project: Path) -> dict[str, Any]:
    """The project's poetry.lock, as plain values."""
    document: dict[str, Any] = tomlkit.loads(
        (project / "poetry.lock").read_text(encoding="utf-8")
    ).unwrap()
    return document


def copy_project(project: Path, destination: Path) -> Path:
    """A copy of a working copy, to edit as a commit would."""
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(project, destination)
    return destination


def plugin_source(workspace: Workspace, revision: str | None) -> tuple[Path, str]:
    """The plugin's source tree to measure, and how to name it in the results.

    None: the working tree as it is (uncommitted changes to src/ are named). A revision: that
    commit, exported with `git archive` to the workspace, so that edits made meanwhile do not count.
    """
    head = git(ROOT, "rev-parse", "--short", revision or "HEAD")
    if revision is None:
        dirty = git(ROOT, "status", "--porcelain", "--", "src", "pyproject.toml")
        return ROOT, f"{head}{' with uncommitted changes to src/' if dirty else ''}"
    tree = workspace.root / "plugin-source"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree, head


def git(directory: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """`git args` in `directory` (with `env`, else this process's environment): its output;
    a failure stops the benchmark."""
    done = subprocess.run(
        ["git", "-C", str(directory), *args],
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} in {directory} failed: {done.stderr.strip()}")
    return done.stdout.strip()
