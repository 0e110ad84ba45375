"""Poetry loads every plugin on every command: this one must cost nothing until it is used.

Each check runs in a fresh interpreter, so what is imported is what Poetry would import.
"""

from __future__ import annotations

import json
import subprocess
import sys


def modules_after(code: str) -> list[str]:
    """Names of the modules a fresh interpreter has imported after running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    modules: list[str] = json.loads(result.stdout.splitlines()[-1])
    return modules


def test_plugin_module_imports_nothing_of_its_own() -> None:
    """Importing the entry point adds only the package and the plugin module to Poetry's own."""
    poetry_only = set(modules_after("import poetry.plugins.application_plugin"))
    with_plugin = set(
        modules_after("import poetry.plugins.application_plugin, poetry_ci_image.plugin")
    )
    assert sorted(with_plugin - poetry_only) == ["poetry_ci_image", "poetry_ci_image.plugin"]


def test_poetry_version_does_not_load_the_commands() -> None:
    """`poetry --version` activates the plugin without importing any command module."""
    modules = modules_after(
        "import contextlib, io\n"
        "from cleo.io.inputs.argv_input import ArgvInput\n"
        "from poetry.console.application import Application\n"
        "app = Application(); app.auto_exits(False)\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    app.run(ArgvInput(['poetry', '--version']))\n"
    )
    assert [m for m in modules if m.startswith("poetry_ci_image")] == [
        "poetry_ci_image",
        "poetry_ci_image.plugin",
    ]


def test_listing_commands_does_not_import_docker() -> None:
    """`poetry list` makes every command object; none of them imports docker or the work."""
    modules = modules_after(
        "from poetry.console.application import Application\n"
        "from cleo.testers.application_tester import ApplicationTester\n"
        "app = Application(); app.auto_exits(False)\n"
        "tester = ApplicationTester(app); tester.execute('list')\n"
        "assert 'image push' in tester.io.fetch_output()\n"
    )
    ours = sorted(m for m in modules if m.startswith("poetry_ci_image"))
    assert "docker" not in modules
    assert ours == [
        "poetry_ci_image",
        "poetry_ci_image.commands",
        "poetry_ci_image.commands.build",
        "poetry_ci_image.commands.dockerfile",
        "poetry_ci_image.commands.image_command",
        "poetry_ci_image.commands.push",
        "poetry_ci_image.commands.tag",
        "poetry_ci_image.errors",
        "poetry_ci_image.plugin",
        "poetry_ci_image.settings",
        "poetry_ci_image.settings.merge",
        "poetry_ci_image.settings.table",
    ]
