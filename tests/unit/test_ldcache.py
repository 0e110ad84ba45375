"""The loader's cache made from the libraries' ELF headers says what the real `ldconfig` says of
the same root: the bookworm root file system .ci/engine makes, read by the host's ldconfig."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile

from pathlib import Path

import pytest

from poetry_ci_image.image.base_root import extract_base_root
from poetry_ci_image.image.base_root import load_base_root
from poetry_ci_image.image.system.ldcache import libcmp
from poetry_ci_image.image.system.libraries import base_view
from poetry_ci_image.image.system.libraries import cache_file


TARBALL = Path(os.environ.get("CI_IMAGE_STATE", "/var/tmp/poetry-ci-image")) / "bookworm-python.tar"


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def listing(ldconfig_output: str) -> list[str]:
    """`ldconfig -p`'s entries, without its first line (it names the file) and last."""
    return [line.strip() for line in ldconfig_output.splitlines() if "=>" in line]


def test_the_cache_lists_what_ldconfig_lists(tmp_path: Path) -> None:
    """Same entries, same order (the loader's binary search depends on it), same paths."""
    if not TARBALL.is_file():
        unavailable(f"{TARBALL} is missing; run .ci/setup")
    if shutil.which("ldconfig") is None or os.geteuid() != 0:
        unavailable("ldconfig -r needs root and the host's ldconfig")
    with TARBALL.open("rb") as stream:
        chunks = iter(lambda: stream.read(1 << 20), b"")
        root = extract_base_root([chunks], tmp_path / "root")
    ours = tmp_path / "ours.cache"
    ours.write_bytes(cache_file(root, base_view(root), [], "EM_X86_64"))
    # ldconfig's own, of the whole root file system
    whole = tmp_path / "whole"
    whole.mkdir()
    with tarfile.open(TARBALL) as tar:
        tar.extractall(whole, filter="tar")
    subprocess.run(["ldconfig", "-r", str(whole), "-C", "/theirs.cache", "-X"], check=True)

    def printed(cache: Path) -> list[str]:
        done = subprocess.run(
            ["ldconfig", "-p", "-C", str(cache)], capture_output=True, text=True, check=True
        )
        return listing(done.stdout)

    theirs = printed(whole / "theirs.cache")
    assert len(theirs) > 50
    assert printed(ours) == theirs
    # read a second time from what was kept beside the root: the same
    again = load_base_root(tmp_path / "root")
    assert again is not None
    assert cache_file(again, base_view(again), [], "EM_X86_64") == ours.read_bytes()


@pytest.mark.parametrize(
    ("left", "right", "sign"),
    [
        pytest.param("libc.so.6", "libc.so.6", 0, id="equal"),
        pytest.param("libz.so.10", "libz.so.9", 1, id="numbers as numbers"),
        pytest.param("libfoo2.so", "libfoo.so", 1, id="a digit sorts after a letter"),
        pytest.param("liba.so", "libb.so", -1, id="letters as bytes"),
        pytest.param("libx.so", "libx.so.1", -1, id="a shorter name first"),
    ],
)
def test_glibcs_order_of_names(left: str, right: str, sign: int) -> None:
    order = libcmp(left, right)
    assert (order > 0) - (order < 0) == sign
