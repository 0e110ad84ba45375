"""Running Poetry (with the plugin, as users do) in a subprocess with an isolated environment."""

from __future__ import annotations

import os
import subprocess
import sys

from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Mapping


POETRY = Path(sys.executable).parent / "poetry"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for pip/Poetry subprocesses: own Poetry dirs, no pip config, no proxy."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "POETRY_")) and key != "VIRTUAL_ENV"
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        POETRY_CACHE_DIR=str(home / "poetry-cache"),
        POETRY_CONFIG_DIR=str(home / "poetry-config"),
        POETRY_DATA_DIR=str(home / "poetry-data"),
        POETRY_NO_INTERACTION="1",
        POETRY_VIRTUALENVS_CREATE="false",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def run_poetry(
    project: Path, *args: str, env: Mapping[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`poetry <args>` in `project`; never raises on a non-zero exit."""
    return subprocess.run(
        [str(POETRY), "--no-ansi", *args],
        cwd=project,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
