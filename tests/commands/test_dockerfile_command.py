"""`poetry image dockerfile`: a Dockerfile to start your own from, with or without Poetry."""

from __future__ import annotations

from cleo.testers.command_tester import CommandTester

from poetry_ci_image.commands import DockerfileCommand
from poetry_ci_image.engine.dockerfile import starter_dockerfile


def dockerfile(arguments: str = "") -> tuple[int, str, str]:
    tester = CommandTester(DockerfileCommand())
    code = tester.execute(arguments)
    return code, tester.io.fetch_output(), tester.io.fetch_error()


def test_prints_the_variant_with_poetry_by_default() -> None:
    """The default puts Poetry into the image, as the built-in recipe does."""
    code, out, err = dockerfile()
    assert (code, out, err) == (0, starter_dockerfile(with_poetry=True), "")
    assert "/opt/poetry" in out


def test_no_poetry_prints_the_variant_without_it() -> None:
    """`--no-poetry` leaves Poetry's venv and PATH entry out."""
    code, out, err = dockerfile("--no-poetry")
    assert (code, out, err) == (0, starter_dockerfile(with_poetry=False), "")
    assert "/opt/poetry" not in out
