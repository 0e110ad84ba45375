"""The Poetry internals the adapter stands on exist in the running Poetry.

The suites under tests/fingerprint and tests/commands run the adapter's planning against each
supported Poetry minor (.ci/poetry-matrix); these checks cover what only a build would reach.
"""

from __future__ import annotations

import inspect

from poetry_ci_image.poetry import fetch


def test_downloader_is_found() -> None:
    """Poetry's Downloader, wherever this Poetry keeps it, takes (url, dest, authenticator)."""
    downloader = fetch._downloader_class()
    parameters = list(inspect.signature(downloader).parameters)
    assert downloader.__name__ == "Downloader"
    assert parameters[:2] == ["url", "dest"]
    assert parameters[2] in {"authenticator", "session"}


def test_build_time_internals_import() -> None:
    """What fetching and building on the host imports is there."""
    from poetry.installation.chef import Chef
    from poetry.utils.authenticator import Authenticator
    from poetry.utils.env import EnvManager
    from poetry.vcs.git import Git
    from virtualenv.seed.wheels.embed import get_embed_wheel

    assert callable(EnvManager.get_system_env)
    assert callable(Git.clone)
    assert get_embed_wheel("pip", "3.11") is not None
    assert Chef.prepare is not None
    assert Authenticator is not None
