"""The `poetry image ...` commands: read options, call the work, print.

stdout carries the result only (the image reference, or JSON); everything else goes to stderr.
Every `CiImageError` becomes `Error: ...` plus a hint on stderr and exit status 2, here and only
here. Check modes exit 1 when the check fails.
"""

from __future__ import annotations

import json
import os

from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from cleo.formatters.formatter import Formatter
from cleo.helpers import option
from poetry.console.commands.command import Command

from poetry_ci_image.errors import BuildError
from poetry_ci_image.errors import CiImageError
from poetry_ci_image.settings import Options
from poetry_ci_image.settings import split_list_options


if TYPE_CHECKING:
    from cleo.io.inputs.option import Option

    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.resolve import Resolved


def _settings_options() -> list[Option]:
    return [
        option("repository", None, "Image repository, without tag.", flag=False),
        option("python", None, "Target CPython version, X.Y.", flag=False),
        option("platform", None, "Target platform: linux/amd64 or linux/arm64.", flag=False),
        option(
            "libc", None, "Target libc, e.g. 'glibc 2.36' (default: from the base).", flag=False
        ),
        option("base", None, "Base image (default: python:X.Y-slim).", flag=False),
        option("dockerfile", None, "Your own Dockerfile instead of the built-in one.", flag=False),
        option(
            "hash-file",
            None,
            "A file whose content feeds the fingerprint.",
            flag=False,
            multiple=True,
        ),
        option("build-arg", None, "A build argument, NAME=value.", flag=False, multiple=True),
        option("tag-file", None, "File that records the reference (.env or .yml).", flag=False),
        option("variable", None, "Variable name in the tag-file (default: CI_IMAGE).", flag=False),
        option("poetry", None, "Put Poetry into the image (the default)."),
        option("no-poetry", None, "Leave Poetry out of the image (runtime images)."),
        option(
            "with", None, "The optional dependency groups to include.", flag=False, multiple=True
        ),
        option("without", None, "The dependency groups to ignore.", flag=False, multiple=True),
        option("only", None, "The only dependency groups to include.", flag=False, multiple=True),
        option("all-groups", None, "Include dependencies from all groups."),
        option("extras", "E", "Extra sets of dependencies to include.", flag=False, multiple=True),
        option("all-extras", None, "Include all extra dependencies."),
    ]


class ImageCommand(Command):
    """What every `image` command shares: the settings options and the error handling."""

    options: ClassVar[list[Option]] = _settings_options()

    def handle(self) -> int:
        try:
            return self.perform()
        except BuildError as error:
            if error.log_tail and not self.io.is_verbose():
                self.line_error("Last lines of the build log:")
                for line in error.log_tail:
                    self.line_error(f"  {_escape(line)}")
            return self._fail(error)
        except CiImageError as error:
            return self._fail(error)

    def perform(self) -> int:
        raise NotImplementedError

    def _fail(self, error: CiImageError) -> int:
        self.line_error(f"<error>Error: {_escape(error.message)}</error>")
        if error.hint:
            self.line_error(_escape(error.hint))
        return error.exit_code

    def settings_options(self) -> Options:
        poetry_flag: bool | None = None
        if self.option("no-poetry"):
            poetry_flag = False
        elif self.option("poetry"):
            poetry_flag = True
        return Options(
            repository=self.option("repository"),
            python=self.option("python"),
            platform=self.option("platform"),
            libc=self.option("libc"),
            base=self.option("base"),
            dockerfile=self.option("dockerfile"),
            hash_files=tuple(self.option("hash-file") or ()),
            build_args=tuple(self.option("build-arg") or ()),
            with_groups=split_list_options(self.option("with") or ()),
            without_groups=split_list_options(self.option("without") or ()),
            only_groups=split_list_options(self.option("only") or ()),
            all_groups=bool(self.option("all-groups")),
            extras=split_list_options(self.option("extras") or ()),
            all_extras=bool(self.option("all-extras")),
            tag_file=self.option("tag-file"),
            variable=self.option("variable"),
            poetry=poetry_flag,
        )

    def project(self) -> Project:
        """The project; Poetry is loaded only if the work needs it (a cache miss, a build)."""
        from poetry_ci_image.poetry import project as poetry_project

        if self._poetry is not None:  # given by set_poetry (tests, other plugins)
            root = self._poetry.pyproject_path.parent
        else:
            root = poetry_project.project_root(
                poetry_project.application_directory(self.get_application())
            )
        return poetry_project.Project(root, lambda: self.poetry)

    def resolve(self, project: Project | None = None) -> Resolved:
        from poetry_ci_image.plan_cache import PlanCache
        from poetry_ci_image.poetry.project import plan_cache_directory
        from poetry_ci_image.resolve import resolve

        no_cache = self.io.input.has_option("no-cache") and self.io.input.option("no-cache")
        cache = PlanCache(None if no_cache else plan_cache_directory())
        return resolve(project or self.project(), self.settings_options(), os.environ, cache)

    def out(self, text: str) -> None:
        """The command's result, on stdout."""
        self.line(_escape(text))

    def status(self, message: str) -> None:
        self.line_error(_escape(message))

    def detail(self, message: str) -> None:
        if self.io.is_verbose():
            self.line_error(_escape(message))


class TagCommand(ImageCommand):
    name = "image tag"
    description = "Print the image reference whose tag fingerprints the locked dependencies."
    options: ClassVar[list[Option]] = [
        *ImageCommand.options,
        option("json", None, "Print the reference, the fingerprint and its inputs as JSON."),
        option(
            "check", None, "Exit 1 unless the tag-file records this reference (writes nothing)."
        ),
        option("remote", None, "Exit 1 unless the registry has this reference (no engine needed)."),
        option("dotenv", None, "Also write VARIABLE=reference to this dotenv file.", flag=False),
        option("github-output", None, "Also write image=... and tag=... to $GITHUB_OUTPUT."),
    ]
    help = """\
The <info>image tag</> command prints <comment><repository>:<tag></>, where the tag is a
fingerprint of what <info>poetry install</> would put into the image for the target.
With <comment>tag-file</> configured it also records the reference there.

<info>--check</>   exit 0 when the tag-file records this reference, 1 when not (git pre-push hook).
<info>--remote</>  exit 0 when the registry has this reference, 1 when not.
Errors exit 2.
"""

    def perform(self) -> int:
        resolved = self.resolve()
        if self.option("check") or self.option("remote"):
            return self._check(resolved)
        if self.option("json"):
            self.out(json.dumps(_describe(resolved), indent=2))
            return 0
        reference = str(resolved.reference)
        self._record(resolved, reference)
        self.out(reference)
        return 0

    def _record(self, resolved: Resolved, reference: str) -> None:
        from poetry_ci_image import outputs
        from poetry_ci_image.tagfile import write_reference

        settings = resolved.settings
        if settings.tag_file is not None:
            changed = write_reference(settings.tag_file, settings.variable, reference)
            name = os.path.relpath(settings.tag_file, settings.project_dir)
            self.status(f"{'Wrote' if changed else 'Unchanged:'} {name}")
        if self.option("dotenv"):
            outputs.write_dotenv(self.option("dotenv"), settings.variable, reference)
        if self.option("github-output"):
            outputs.write_github_output(os.environ, resolved.reference)

    def _check(self, resolved: Resolved) -> int:
        from poetry_ci_image.tagfile import read_reference

        reference = resolved.reference
        settings = resolved.settings
        if self.option("check"):
            tag_file = settings.require_tag_file()
            recorded = read_reference(tag_file, settings.variable)
            name = os.path.relpath(tag_file, settings.project_dir)
            if recorded != str(reference):
                self.line_error(
                    f"<error>{_escape(name)} is out of date.</error>\n"
                    f"  recorded: {_escape(recorded or f'nothing ({settings.variable} missing)')}\n"
                    f"  computed: {_escape(str(reference))}\n"
                    f"Run `poetry image tag` and commit {_escape(name)}."
                )
                return 1
            self.status(f"{name} is up to date.")
        if self.option("remote"):
            from poetry_ci_image.credentials import find_credentials
            from poetry_ci_image.registry import HttpRegistry

            credentials = find_credentials(reference.registry, os.environ)
            if not HttpRegistry().exists(reference, credentials):
                self.line_error(
                    f"<error>{_escape(str(reference))} is not in the registry.</error>\n"
                    "Run `poetry image push` to build and push it."
                )
                return 1
            self.status(f"{reference} is in the registry.")
        self.out(str(reference))
        return 0


class BuildCommand(ImageCommand):
    name = "image build"
    description = "Build the image holding the locked dependencies with the Docker engine."
    options: ClassVar[list[Option]] = [
        *ImageCommand.options,
        option(
            "tag",
            None,
            "Also tag the image with this tag (e.g. latest).",
            flag=False,
            multiple=True,
        ),
        option("force", None, "Build even if the engine has the image already."),
    ]

    def perform(self) -> int:
        from poetry_ci_image.build import build_image
        from poetry_ci_image.engine import DockerEngine

        project = self.project()
        resolved = self.resolve(project)
        outcome = build_image(
            project,
            resolved,
            DockerEngine(os.environ),
            self,
            os.environ,
            extra_tags=tuple(self.option("tag") or ()),
            force=bool(self.option("force")),
        )
        if outcome.built:
            self.status(f"Built {outcome.reference} in {outcome.seconds:.1f} s.")
        self.out(outcome.reference)
        return 0


class PushCommand(ImageCommand):
    name = "image push"
    description = "Make sure the registry has the image: a no-op when it does, else build and push."
    options: ClassVar[list[Option]] = [
        *ImageCommand.options,
        option(
            "tag",
            None,
            "Also push this tag (e.g. latest) with a new image.",
            flag=False,
            multiple=True,
        ),
        option("force", None, "Build and push even if the registry has the image already."),
    ]

    def perform(self) -> int:
        from poetry_ci_image.engine import DockerEngine
        from poetry_ci_image.push import push_image
        from poetry_ci_image.registry import HttpRegistry

        project = self.project()
        resolved = self.resolve(project)
        outcome = push_image(
            project,
            resolved,
            lambda: DockerEngine(os.environ),
            HttpRegistry(),
            self,
            os.environ,
            extra_tags=tuple(self.option("tag") or ()),
            force=bool(self.option("force")),
        )
        if outcome.pushed:
            self.status(f"Pushed {outcome.reference} in {outcome.seconds:.1f} s.")
        self.out(outcome.reference)
        return 0


class DockerfileCommand(ImageCommand):
    name = "image dockerfile"
    description = "Print the built-in Dockerfile, to start your own from it."
    options: ClassVar[list[Option]] = [
        option("poetry", None, "The variant that puts Poetry into the image (the default)."),
        option("no-poetry", None, "The variant that leaves Poetry out."),
    ]

    def perform(self) -> int:
        from poetry_ci_image.dockerfile import builtin_dockerfile

        self.out(builtin_dockerfile(with_poetry=not self.option("no-poetry")).rstrip("\n"))
        return 0


def _describe(resolved: Resolved) -> dict[str, Any]:
    from poetry_ci_image.fingerprint import SCHEMA_VERSION

    settings = resolved.settings
    reference = str(resolved.reference) if settings.repository else None
    return {
        "reference": reference,
        "repository": settings.repository,
        "tag": resolved.fingerprint.tag,
        "fingerprint": resolved.fingerprint.digest,
        "schema": SCHEMA_VERSION,
        "target": resolved.target.as_dict(),
        "image": resolved.recipe.as_dict(),
        "groups": list(resolved.plan.groups),
        "extras": list(resolved.plan.extras),
        "packages": [package.as_dict() for package in resolved.plan.packages],
        "not_in_image": {
            "directory_dependencies": list(resolved.plan.directories),
        },
    }


def _escape(text: str) -> str:
    return Formatter.escape(text)


COMMANDS: dict[str, type[ImageCommand]] = {
    command.name: command for command in (TagCommand, BuildCommand, PushCommand, DockerfileCommand)
}
