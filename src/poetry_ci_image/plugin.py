"""The Poetry application plugin: registers the `image` commands, and nothing else.

Poetry imports every application plugin on every command (`poetry --version` included), so this
module imports nothing of its own: each command's module is imported when that command is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from poetry.plugins.application_plugin import ApplicationPlugin


if TYPE_CHECKING:
    from collections.abc import Callable

    from poetry.console.application import Application
    from poetry.console.commands.command import Command


COMMAND_NAMES = ("image tag", "image build", "image push", "image dockerfile")


class CiImagePlugin(ApplicationPlugin):
    def activate(self, application: Application) -> None:
        for name in COMMAND_NAMES:
            application.command_loader.register_factory(name, _factory(name))


def _factory(name: str) -> Callable[[], Command]:
    def make() -> Command:
        from poetry_ci_image.commands import COMMANDS

        return COMMANDS[name]()

    return make
