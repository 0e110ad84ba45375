"""What every `poetry image` command shares: the settings options, progress output, and the one
place where errors become output and exit codes.

Every `CiImageError` becomes `Error: ...` plus a hint on stderr and its exit status (2; 130 for
an interrupt); check modes exit 1 when the check fails. Anything else is a bug or an unsupported
Poetry: one message that says where to report it, and the traceback only with -vvv.
"""

from __future__ import annotations

import os
import signal
import traceback

from functools import partial
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from cleo.formatters.formatter import Formatter
from cleo.helpers import option
from poetry.console.commands.command import Command

from poetry_ci_image import ISSUES_URL
from poetry_ci_image import __version__
from poetry_ci_image.errors import BuildError
from poetry_ci_image.errors import CiImageError
from poetry_ci_image.errors import ConfigError
from poetry_ci_image.errors import Interrupted
from poetry_ci_image.settings.merge import Options
from poetry_ci_image.settings.merge import split_list_options
from poetry_ci_image.settings.table import SETTINGS
from poetry_ci_image.settings.table import Setting


if TYPE_CHECKING:
    from types import FrameType

    from cleo.io.inputs.option import Option
    from poetry.poetry import Poetry

    from poetry_ci_image.jobs.image_job import ImageJob
    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.run import Run
    from poetry_ci_image.tag.outputs import Outputs
    from poetry_ci_image.tag.resolve import Resolved


def _off_help(setting: Setting) -> str:
    if setting.kind == "bool":
        return f"The opposite of --{setting.key}."
    return f"Ignore {setting.key} in [tool.poetry-ci-image]: use the default."


def settings_options() -> list[Option]:
    """A `--<key>` option for every setting, and `--no-<key>` where it can be switched off."""
    options: list[Option] = []
    for setting in SETTINGS:
        options.append(
            option(
                setting.option_name,
                setting.shortcut,
                setting.help,
                flag=setting.kind == "bool",
                multiple=setting.kind in {"strings", "table", "platforms"},
            )
        )
        if setting.off_option:
            options.append(option(setting.off_option, None, _off_help(setting)))
    return options


class ImageCommand(Command):
    """The base of every `image` command: settings options and error handling."""

    options: ClassVar[list[Option]] = settings_options()
    # What an interrupted run leaves (each command says what it writes last, in one step).
    interrupted = "Interrupted."
    _given_poetry: Poetry | None = None

    def set_poetry(self, poetry: Poetry) -> None:
        """A Poetry given from outside (tests, other plugins) instead of the application's."""
        self._given_poetry = poetry
        super().set_poetry(poetry)

    def handle(self) -> int:
        previous = _terminate_as_interrupt()
        try:
            return self.perform()
        except KeyboardInterrupt:
            return self._fail(
                Interrupted(self.interrupted, "Run the command again to finish the work.")
            )
        except BuildError as error:
            if error.log_tail and not self.io.is_verbose():
                self.line_error("Last lines of the build log:")
                for line in error.log_tail:
                    self.line_error(f"  {_escape(line)}")
            return self._fail(error)
        except CiImageError as error:
            return self._fail(error)
        except Exception as error:  # the last resort: a bug, or a Poetry the plugin misreads
            if self.io.is_debug():
                self.line_error(_escape("".join(traceback.format_exception(error)).rstrip()))
            return self._fail(
                CiImageError(
                    f"poetry-ci-image {__version__} failed unexpectedly: "
                    f"{type(error).__name__}: {error}",
                    f"This is a bug: report it at {ISSUES_URL} with the output of the command "
                    "run with -vvv (which shows the traceback).",
                )
            )
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def perform(self) -> int:
        raise NotImplementedError

    def _fail(self, error: CiImageError) -> int:
        if self.io.is_debug() and error.__cause__ is not None:
            self.line_error(_escape("".join(traceback.format_exception(error.__cause__)).rstrip()))
        self.line_error(f"<error>Error: {_escape(error.message)}</error>")
        if error.hint:
            self.line_error(_escape(error.hint))
        return error.exit_code

    def given_options(self) -> Options:
        """The settings options as given on the command line, by setting key."""
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            given = self.option(setting.option_name)
            off = bool(self.option(setting.off_option)) if setting.off_option else False
            if off and given:
                raise ConfigError(
                    f"--{setting.option_name} and --{setting.off_option} are both given.",
                    "Give one of them.",
                )
            if setting.kind == "bool":
                if given or off:
                    values[setting.key] = bool(given)
            elif off:
                values[setting.key] = None
            elif isinstance(given, list):
                if given:
                    values[setting.key] = (
                        split_list_options(given) if setting.split else tuple(given)
                    )
            elif given is not None:
                values[setting.key] = given
        return Options(values)

    def project(self) -> Project:
        """The project; Poetry is loaded only if the work needs it (a cache miss, a build)."""
        from poetry_ci_image.poetry import project as poetry_project

        if self._given_poetry is not None:
            return poetry_project.Project.loaded(self._given_poetry)
        application = self.get_application()
        root = poetry_project.project_root(poetry_project.application_directory(application))
        # Poetry's application makes it, with the options Poetry was given (-C, -P, --no-cache).
        return poetry_project.Project(root, partial(getattr, application, "poetry"))

    def outputs(self) -> Outputs:
        """Where `--dotenv` and `--github-output` hand the reference on, checked writable."""
        from poetry_ci_image.tag.outputs import check_outputs

        return check_outputs(self.option("dotenv"), bool(self.option("github-output")), os.environ)

    def run_context(self) -> Run:
        """This run's context: the command reports, the real registries, Poetry's cache (none
        with `poetry --no-cache`)."""
        from poetry_ci_image.poetry.project import cache_directory
        from poetry_ci_image.registry.registries import Registries
        from poetry_ci_image.run import Run

        no_cache = self.io.input.has_option("no-cache") and self.io.input.option("no-cache")
        reporter = self.reporter()
        return Run(
            reporter=reporter,
            registries=Registries(os.environ, reporter),
            cache_root=None if no_cache else cache_directory() / "ci-image",
        )

    def reporter(self) -> Reporter:
        """Where progress goes: status lines on stderr, detail lines too with -v."""
        from poetry_ci_image.commands.console import ConsoleReporter

        return ConsoleReporter(self.io.error_output)

    def resolve(self, run: Run, project: Project | None = None) -> Resolved:
        """The lock resolved to its image reference (the tag half), for this command's options."""
        from poetry_ci_image.tag.plan_cache import PlanCache
        from poetry_ci_image.tag.resolve import resolve

        cache = PlanCache(None if run.cache_root is None else run.cache_root / "plans")
        with run.timeline.step("resolve the lock to its tag"):
            return resolve(project or self.project(), self.given_options(), os.environ, cache)

    def image_job(self, run: Run) -> ImageJob:
        """What `build` and `push` work on: the project, resolved, with the real engine."""
        from poetry_ci_image.engine.docker import DockerEngine
        from poetry_ci_image.jobs.image_job import ImageJob

        project = self.project()
        return ImageJob(
            project=project,
            resolved=self.resolve(run, project),
            engine=lambda: DockerEngine(os.environ),
            extra_tags=tuple(self.option("tag") or ()),
            force=bool(self.option("force")),
        )

    def out(self, text: str) -> None:
        """The command's result, on stdout."""
        self.line(_escape(text))

    def status(self, message: str) -> None:
        """A line a person follows the work by, on stderr."""
        self.line_error(_escape(message))


_TAG_VERBS = {"build": "tag the image with", "push": "push the image under"}


def job_options(verb: str, *own: Option) -> list[Option]:
    """The options of `build` and `push`: the settings, extra tags, doing it again anyway, and
    then the command's own."""
    return [
        *settings_options(),
        option(
            "tag",
            None,
            f"Also {_TAG_VERBS[verb]} this tag, e.g. latest.",
            flag=False,
            multiple=True,
        ),
        option("force", None, f"{verb.capitalize()} even if the image is there already."),
        *own,
    ]


def output_options() -> list[Option]:
    """The options `tag` and `push` share: where else to hand the reference on."""
    return [
        option("dotenv", None, "Also write VARIABLE=reference to this dotenv file.", flag=False),
        option("github-output", None, "Also write image=... and tag=... to $GITHUB_OUTPUT."),
    ]


def _escape(text: str) -> str:
    return Formatter.escape(text)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _terminate_as_interrupt() -> Any:
    """A cancelled CI job gets SIGTERM: stop as on Ctrl-C, so the run directory is removed."""
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread (an embedding application): leave it alone
        return None
