"""What `poetry image push` hands on: `--json` for tools (the benchmarks read it), against the
real registry with no engine."""

from __future__ import annotations

import json

from typing import TYPE_CHECKING

import pytest

from tests.integration.test_push import engine_free
from tests.integration.test_push import make_project
from tests.support.poetry_cli import run_poetry
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

MAIN_STEPS = [
    "resolve the lock to its tag",
    "ask the registry for the tag",
    "read the registry's layer cache",
    "read the base image's manifest and config",
    "read the base image's files",
    "fetch and install the locked files",
    "write the dependency layers",
    "wait for Poetry's layers",
    "wait for the system packages' layers",
    "check that compiled files find their libraries",
    "send the blobs and the manifest",
    "attach the SBOMs",
    "put the tags",
    "update the registry's layer cache",
]
POETRY_STEPS = ["fetch Poetry's wheels for the image", "write Poetry's layers"]


def test_push_json_says_what_was_sent_and_how_long_each_step_took(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """A first push reports its digest, every blob's fate, each step and each layer; a second
    reports that nothing was pushed."""
    project = make_project(tmp_path / "report", index, registry, tool_env, name="report")
    # A cache of its own: every step runs (fetching, installing, Poetry's wheels).
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    first = run_poetry(project, "image", "push", "--json", env=env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    reference = report["reference"]
    assert reference.startswith(f"{registry.host}/report/ci-image:py3.11-amd64-")
    assert report["pushed"] is True
    assert report["digest"].startswith("sha256:")
    assert f"Pushed {reference} in " in first.stderr

    (platform,) = report["platforms"]
    layers = platform["layers"]
    blobs = report["blobs"]
    # The base's layer is copied from the stand-in Docker Hub; ours and the config uploaded.
    assert (blobs["copied"], blobs["mounted"], blobs["present"]) == (1, 0, 0)
    assert blobs["uploaded"] == len(layers) + 1
    assert blobs["uploaded_bytes"] > sum(layer["size"] for layer in layers)
    comments = [layer["comment"] for layer in layers]
    assert comments[0].startswith("the venvs' skeleton")
    assert [c for c in comments if c.startswith(("alpha", "beta", "delta", "devtool", "native"))]

    steps = report["steps"]
    assert [s["name"] for s in steps if s["track"] == "main"] == MAIN_STEPS
    assert [s["name"] for s in steps if s["track"] == "poetry"] == POETRY_STEPS
    assert [s["name"] for s in steps if s["track"] == "stdlib"] == ["compile the standard library"]
    assert all(s["seconds"] >= 0 and s["start"] >= 0 for s in steps)
    # Every step lies within the run; the push's own seconds start after the plan.
    assert max(s["start"] + s["seconds"] for s in steps) <= report["elapsed"]
    assert report["seconds"] <= report["elapsed"]

    again = run_poetry(project, "image", "push", "--json", env=env)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert (second["reference"], second["pushed"], second["digest"]) == (
        reference,
        False,
        report["digest"],
    )
    assert (second["blobs"], second["platforms"]) == (None, [])
    assert [s["name"] for s in second["steps"]] == MAIN_STEPS[:2]


def test_push_hands_the_reference_on_and_refuses_an_unwritable_output_first(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """`push --dotenv FILE --github-output`: one command hands the reference on, whether it
    pushed or not; an output that cannot be written stops the push before it sends anything."""
    project = make_project(
        tmp_path / "handed", index, registry, tool_env, extra="poetry = false\n", name="handed"
    )
    github = tmp_path / "github-output"
    env = {**engine_free(tool_env, tmp_path), "GITHUB_OUTPUT": str(github)}
    (tmp_path / "taken").mkdir()
    refused = run_poetry(project, "image", "push", "--dotenv", str(tmp_path / "taken"), env=env)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"Error: --dotenv {tmp_path / 'taken'} cannot be written")
    assert refused.stdout == ""
    tag = run_poetry(project, "image", "tag", env=env).stdout.strip()
    repository, _, tag_name = tag.removeprefix(f"{registry.host}/").partition(":")
    assert manifest_status(registry.host, repository, tag_name) == 404

    dotenv = tmp_path / "deps.env"
    for _ in range(2):  # a push, then the no-op: both hand it on
        pushed = run_poetry(
            project, "image", "push", "--dotenv", str(dotenv), "--github-output", env=env
        )
        assert pushed.returncode == 0, pushed.stderr
        assert pushed.stdout == f"{tag}\n"
        assert dotenv.read_text() == f"CI_IMAGE={tag}\n"
    assert github.read_text() == f"image={tag}\ntag={tag_name}\n" * 2
    assert manifest_status(registry.host, repository, tag_name) == 200


def test_no_cache_keeps_nothing_in_the_plugins_cache(
    tmp_path: Path, index: PackageIndex, registry: Registry, tool_env: dict[str, str]
) -> None:
    """`poetry --no-cache image push` (Poetry in the image, bytecode on): the push works and
    nothing is written under the plugin's cache: no plans, layers, runtimes or Poetry wheels."""
    project = make_project(tmp_path / "nocache", index, registry, tool_env, name="nocache")
    cache = tmp_path / "cache"
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(cache)}
    result = run_poetry(project, "--no-cache", "image", "push", env=env)
    assert result.returncode == 0, result.stderr
    assert not (cache / "ci-image").exists()
