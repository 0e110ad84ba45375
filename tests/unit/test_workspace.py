"""The run's temporary directory goes, however the run ends: also when a worker thread writes a
last file into it while it is being removed (after Ctrl-C)."""

from __future__ import annotations

import shutil

from typing import TYPE_CHECKING

import pytest

from poetry_ci_image.plumbing import workspace


if TYPE_CHECKING:
    from pathlib import Path


def test_the_directory_goes_when_the_block_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with workspace.run_directory() as path:
        (path / "layer.tar.gz").write_bytes(b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_file_written_during_the_removal_does_not_leave_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first removal races with a late writer (its file lands after the tree was walked):
    the directory is removed on the next try."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    real = shutil.rmtree
    calls = []

    def racing(path: Path, ignore_errors: bool = False) -> None:
        calls.append(path)
        real(path, ignore_errors=ignore_errors)
        if len(calls) == 1:
            path.mkdir(exist_ok=True)
            (path / "late.part").write_bytes(b"written after the walk")

    monkeypatch.setattr("shutil.rmtree", racing)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    with pytest.raises(KeyboardInterrupt), workspace.run_directory():
        raise KeyboardInterrupt
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []
