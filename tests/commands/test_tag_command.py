"""`poetry image tag`, through cleo's CommandTester: the whole output, both streams, exit codes."""

from __future__ import annotations

import json

from typing import TYPE_CHECKING

import pytest

from cleo.testers.command_tester import CommandTester

from poetry_ci_image.commands import TagCommand
from tests.support.poetry_cli import clean_env
from tests.support.poetry_cli import run_poetry
from tests.support.projects import copy_project
from tests.support.projects import load_poetry
from tests.support.projects import replace_in


if TYPE_CHECKING:
    from pathlib import Path


REPOSITORY = "registry.example/team/webapp/ci-image"
# The tag of the `base` fixture for CPython 3.10 on linux/amd64, Poetry left out of the image.
# If it changes, the fingerprint changed for every user: bump SCHEMA_VERSION if that is the
# intent (a changed BUILDER_FORMAT also changes it, rightly).
BASE_TAG = "py3.10-amd64-6387c07ea70cb849"
BASE_REFERENCE = f"{REPOSITORY}:{BASE_TAG}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = copy_project("base", tmp_path / "webapp")
    with (project / "pyproject.toml").open("a") as stream:
        stream.write(f'\n[tool.poetry-ci-image]\nrepository = "{REPOSITORY}"\npoetry = false\n')
    return project


def tag(project: Path, arguments: str = "") -> tuple[int, str, str]:
    command = TagCommand()
    command.set_poetry(load_poetry(project))
    tester = CommandTester(command)
    code = tester.execute(arguments)
    return code, tester.io.fetch_output(), tester.io.fetch_error()


def test_prints_the_reference_and_nothing_else(project: Path) -> None:
    """stdout holds `<repository>:<tag>` and a newline; stderr is empty."""
    assert tag(project) == (0, f"{BASE_REFERENCE}\n", "")


def test_the_poetry_program_finds_the_project_itself_and_with_directory(
    project: Path, tmp_path: Path
) -> None:
    """Run as users run it (Poetry's application finds the project, not a tester): the same
    reference from the project's directory and from elsewhere with -C and -P."""
    env = clean_env(tmp_path / "home")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for where, arguments in (
        (project, ()),
        (outside, ("-C", str(project))),
        (outside, ("-P", str(project))),
    ):
        result = run_poetry(where, *arguments, "image", "tag", env=env)
        assert (result.returncode, result.stdout) == (0, f"{BASE_REFERENCE}\n"), result.stderr


def test_writes_the_tag_file_once(project: Path) -> None:
    """The tag-file is written when the reference changes, and said to be unchanged otherwise."""
    assert tag(project, "--tag-file ci-image.env") == (
        0,
        f"{BASE_REFERENCE}\n",
        "Wrote ci-image.env\n",
    )
    assert (project / "ci-image.env").read_text() == f"CI_IMAGE={BASE_REFERENCE}\n"
    assert tag(project, "--tag-file ci-image.env") == (
        0,
        f"{BASE_REFERENCE}\n",
        "Unchanged: ci-image.env\n",
    )


def test_check_passes_when_the_tag_file_is_current(project: Path) -> None:
    """Exit 0, and the tag-file is not touched."""
    tag(project, "--tag-file ci-image.yml --variable DEPS_IMAGE")
    before = (project / "ci-image.yml").stat().st_mtime_ns
    assert tag(project, "--tag-file ci-image.yml --variable DEPS_IMAGE --check") == (
        0,
        f"{BASE_REFERENCE}\n",
        "ci-image.yml is up to date.\n",
    )
    assert (project / "ci-image.yml").stat().st_mtime_ns == before


def test_check_fails_when_the_lock_moved(project: Path) -> None:
    """A re-resolution the lock's content-hash does not see still fails the check."""
    tag(project, "--tag-file ci-image.env")
    lock = project / "poetry.lock"
    # As `poetry update certifi` would: the content-hash does not move, the installed set does.
    replace_in(
        lock, 'name = "certifi"\nversion = "2026.10.18"', 'name = "certifi"\nversion = "2026.11.1"'
    )
    code, out, err = tag(project, "--tag-file ci-image.env --check")
    new = err.split("computed: ")[1].split("\n")[0]
    assert (code, out, err) == (
        1,
        "",
        "ci-image.env is out of date.\n"
        f"  recorded: {BASE_REFERENCE}\n"
        f"  computed: {new}\n"
        "Run `poetry image tag` and commit ci-image.env.\n",
    )
    assert new != BASE_REFERENCE
    assert (project / "ci-image.env").read_text() == f"CI_IMAGE={BASE_REFERENCE}\n"


def test_check_fails_when_nothing_is_recorded(project: Path) -> None:
    """A missing tag-file is a failed check (1), not an error."""
    assert tag(project, "--tag-file ci-image.env --check") == (
        1,
        "",
        "ci-image.env does not exist.\n"
        f"  computed: {BASE_REFERENCE}\n"
        "Run `poetry image tag` and commit ci-image.env.\n",
    )
    assert not (project / "ci-image.env").exists()


@pytest.mark.parametrize(
    ("content", "recorded"),
    [
        pytest.param("OTHER=x\n", "nothing (no CI_IMAGE in it)", id="another variable"),
        pytest.param("CI_IMAGE=\n", "nothing (CI_IMAGE is empty)", id="an empty value"),
    ],
)
def test_check_says_what_a_tag_file_that_exists_lacks(
    project: Path, content: str, recorded: str
) -> None:
    """A tag-file without the variable (renamed, another tool's .env) or with it empty."""
    (project / "ci-image.env").write_text(content)
    assert tag(project, "--tag-file ci-image.env --check") == (
        1,
        "",
        "ci-image.env is out of date.\n"
        f"  recorded: {recorded}\n"
        f"  computed: {BASE_REFERENCE}\n"
        "Run `poetry image tag` and commit ci-image.env.\n",
    )


def test_check_without_a_tag_file_is_an_error(project: Path) -> None:
    """Nothing to compare with: exit 2 and how to configure one."""
    assert tag(project, "--check") == (
        2,
        "",
        "Error: No tag-file is configured, so there is no recorded reference to check.\n"
        'Set tag-file in [tool.poetry-ci-image] (for example "ci-image.env"), '
        "or pass --tag-file.\n",
    )


def test_json_lists_every_input(project: Path) -> None:
    """--json gives the reference, the fingerprint, the target and each package's file."""
    code, out, err = tag(project, "--json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["reference"] == BASE_REFERENCE
    assert document["tag"] == BASE_TAG
    assert document["fingerprint"].startswith(BASE_TAG.rsplit("-", 1)[1])
    assert [platform["target"] for platform in document["platforms"]] == [
        {
            "implementation": "cpython",
            "python": "3.10",
            "platform": "linux/amd64",
            "libc": "glibc 2.41",
        }
    ]
    assert document["groups"] == ["dev", "main"]
    numpy = next(p for p in document["platforms"][0]["packages"] if p["name"] == "numpy")
    assert numpy["version"] == "2.2.6"
    assert numpy["file"] == (
        "numpy-2.2.6-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert numpy["source"] == {
        "type": "legacy",
        "url": "https://pypi.example/simple",
        "reference": "pypi-simple",
    }
    assert "orjson" not in {p["name"] for p in document["platforms"][0]["packages"]}


@pytest.mark.parametrize(
    ("edit", "arguments", "stderr"),
    [
        pytest.param(
            lambda project: (project / "poetry.lock").unlink(),
            "",
            "Error: poetry.lock was not found in {project}.\n"
            "Run `poetry lock` to create it, and commit it.\n",
            id="no lock",
        ),
        pytest.param(
            lambda project: replace_in(
                project / "pyproject.toml", '"numpy (==2.2.6)"', '"numpy (==2.2.5)"'
            ),
            "",
            "Error: pyproject.toml changed significantly since poetry.lock was last generated. "
            "Run `poetry lock` to fix the lock file.\n",
            id="stale lock",
        ),
        pytest.param(
            lambda project: replace_in(project / "poetry.lock", 'name = "certifi"\n', ""),
            "",
            "Error: poetry.lock is damaged: [[package]] 1 has no name.\n"
            "Restore it from version control (`git checkout poetry.lock`), or run "
            "`poetry lock`.\n",
            id="a package without its name (a bad merge)",
        ),
        pytest.param(
            lambda project: None,
            "--repository ''",
            "Error: --repository was given an empty value.\n"
            "Give it a value, or leave the option out.\n",
            id="an empty option",
        ),
        pytest.param(
            lambda project: None,
            "--with nope",
            "Error: Group(s) not found: nope (via --with)\n"
            "Name groups that pyproject.toml defines, in the options or in "
            "[tool.poetry-ci-image].\n",
            id="unknown group",
        ),
        pytest.param(
            lambda project: None,
            "-E nope",
            "Error: Extra [nope] is not specified.\n",
            id="unknown extra",
        ),
        pytest.param(
            lambda project: None,
            "--python 3.9",
            "Error: The target Python 3.9 is outside the project's Python constraint "
            "'>=3.10,<4'.\nSet python (or base) in [tool.poetry-ci-image] to a version the "
            "project supports.\n",
            id="python outside the constraint",
        ),
        pytest.param(
            lambda project: None,
            "--repository Registry.Example/App",
            "Error: repository 'Registry.Example/App' is not a valid image repository name.\n"
            "Use [registry[:port]/]path in lower case, without a tag, for example "
            "registry.example.com/team/project/ci-image.\n",
            id="invalid repository",
        ),
        pytest.param(
            lambda project: None,
            "--dockerfile ci/Dockerfile",
            "Error: The Dockerfile ci/Dockerfile is missing.\n"
            "Fix dockerfile in [tool.poetry-ci-image] (a path relative to pyproject.toml), or "
            "remove it to use the built-in recipe (`poetry image dockerfile` prints a start).\n",
            id="missing Dockerfile",
        ),
    ],
)
def test_errors(project: Path, edit: object, arguments: str, stderr: str) -> None:
    """Each mistake gives one message and a remedy, exit 2, and nothing on stdout."""
    assert callable(edit)
    edit(project)
    assert tag(project, arguments) == (2, "", stderr.format(project=project))


def test_platform_without_files_for_it(project: Path) -> None:
    """A package with no file for the target: which package, which target, what to do."""
    lock = project / "poetry.lock"
    text = lock.read_text()
    kept = [
        line
        for line in text.splitlines()
        if not (line.strip().startswith('{file = "numpy-') and "aarch64" in line)
        and "numpy-2.2.6.tar.gz" not in line
    ]
    lock.write_text("\n".join(kept) + "\n")
    code, out, err = tag(project, "--platform linux/arm64")
    assert (code, out) == (2, "")
    assert err == (
        "Error: numpy 2.2.6 has no distribution in poetry.lock that CPython 3.10 on "
        "linux/arm64 (glibc 2.41) can install.\n"
        "Choose another target (python, platform, base), or a version of the package that "
        "ships files for it, then run `poetry lock`.\n"
    )


def test_lists_and_tables_in_the_configuration(project: Path) -> None:
    """Arrays and inline tables of [tool.poetry-ci-image] are read, twice (through the cache)."""
    (project / "apt.txt").write_text("libpq5\n")
    with (project / "pyproject.toml").open("a") as stream:
        stream.write(
            'dockerfile = "Dockerfile.ci"\nhash-files = ["apt.txt"]\n'
            'build-args = { EXTRA = "1" }\nwith = ["docs"]\n'
        )
    (project / "Dockerfile.ci").write_text("FROM python:3.10-slim\n")
    for _ in range(2):
        code, out, err = tag(project, "--json")
        assert (code, err) == (0, "")
        document = json.loads(out)
        assert document["image"]["build_args"] == {"EXTRA": "1"}
        assert list(document["image"]["hash_files"]) == ["apt.txt"]
        assert document["groups"] == ["dev", "docs", "main"]


def test_an_option_switches_off_the_tables_all_groups(project: Path) -> None:
    """`all-groups = true` in the table, `--no-all-groups` on the command line: the default."""
    with (project / "pyproject.toml").open("a") as stream:
        stream.write("all-groups = true\n")
    _, everything, _ = tag(project, "--json")
    code, default, err = tag(project, "--json --no-all-groups")
    assert (code, err) == (0, "")
    assert json.loads(everything)["groups"] == ["dev", "docs", "main"]
    assert json.loads(default)["groups"] == ["dev", "main"]


def test_an_option_and_its_opposite_together_are_an_error(project: Path) -> None:
    """`--poetry --no-poetry` says which two options disagree."""
    assert tag(project, "--poetry --no-poetry") == (
        2,
        "",
        "Error: --poetry and --no-poetry are both given.\nGive one of them.\n",
    )


@pytest.mark.parametrize("check", ["--check", "--remote"])
def test_json_with_a_check_is_an_error(project: Path, check: str) -> None:
    """--json prints the inputs, --check and --remote answer yes or no: together, an error
    (before the lock is read), not one of them silently ignored."""
    assert tag(project, f"--json {check} --tag-file ci-image.env") == (
        2,
        "",
        f"Error: --json and {check} are both given: --json prints what the tag is made of, "
        f"{check} answers yes or no.\nGive one of them.\n",
    )


def test_dotenv_and_github_output_hand_the_reference_on(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--dotenv FILE` writes VARIABLE=reference; `--github-output` appends image= and tag=."""
    github = tmp_path / "github-output"
    github.write_text("earlier=1\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(github))
    dotenv = tmp_path / "reports" / "ci-image.env"
    assert tag(project, f"--dotenv {dotenv} --github-output") == (0, f"{BASE_REFERENCE}\n", "")
    assert dotenv.read_text() == f"CI_IMAGE={BASE_REFERENCE}\n"
    assert github.read_text() == f"earlier=1\nimage={BASE_REFERENCE}\ntag={BASE_TAG}\n"


def test_a_check_hands_the_reference_on_only_when_it_passes(project: Path, tmp_path: Path) -> None:
    """`--check --dotenv FILE`: a job can hand on the reference it checked; a failed check
    writes no dotenv (a stale reference handed on would test in the wrong image)."""
    dotenv = tmp_path / "ci-image.dotenv"
    code, _, _ = tag(project, f"--tag-file ci-image.env --check --dotenv {dotenv}")
    assert code == 1
    assert not dotenv.exists()

    tag(project, "--tag-file ci-image.env")
    code, _, _ = tag(project, f"--tag-file ci-image.env --check --dotenv {dotenv}")
    assert code == 0
    assert dotenv.read_text() == f"CI_IMAGE={BASE_REFERENCE}\n"


def test_an_output_that_cannot_be_written_is_refused_first(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dotenv path that is a directory: one message, exit 2, and the tag-file untouched."""
    with (project / "pyproject.toml").open("a") as stream:
        stream.write('tag-file = "ci-image.env"\n')
    (tmp_path / "taken").mkdir()
    code, out, err = tag(project, f"--dotenv {tmp_path / 'taken'}")
    assert (code, out) == (2, "")
    assert err == (
        f"Error: --dotenv {tmp_path / 'taken'} cannot be written: Is a directory: "
        f"{tmp_path / 'taken'}\nCheck the path and its permissions. Nothing was done.\n"
    )
    assert not (project / "ci-image.env").exists()
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert tag(project, "--github-output") == (
        2,
        "",
        "Error: --github-output is given but GITHUB_OUTPUT is not set.\n"
        "Use --github-output in a GitHub Actions step only.\n",
    )


def test_a_project_poetry_refuses_is_said_in_poetrys_words(project: Path, tmp_path: Path) -> None:
    """isort's case: an extras entry Poetry's schema refuses. One message with Poetry's own
    words and what to do, exit 2: the project's error, not a bug of the plugin."""
    with (project / "pyproject.toml").open("a") as stream:
        stream.write('\n[tool.poetry.extras]\nspeed = "orjson"\n')
    for command in ("tag", "push"):
        result = run_poetry(project, "image", command, env=clean_env(tmp_path / "home"))
        assert (result.returncode, result.stdout, result.stderr) == (
            2,
            "",
            "Error: pyproject.toml is not a valid Poetry project:\n"
            "  - tool.poetry.extras.speed must be array\n"
            "Fix pyproject.toml (`poetry check` shows the same).\n",
        )
