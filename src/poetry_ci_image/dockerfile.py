"""The built-in Dockerfile, and the contract your own Dockerfile is given.

The built-in Dockerfile gets the venvs' files made on the host (context.add_venvs). Your own
Dockerfile gets this build context instead (context.add_pip_contract):

    Dockerfile                      the Dockerfile being built
    ci-image/requirements.txt       `name==version --hash=sha256:...`, one line per planned package
    ci-image/dists/                 the files those lines name (wheels, and sdists as locked)
    ci-image/pip.whl                a pip for the target's Python: `python ci-image/pip.whl/pip`
    ci-image/poetry-wheels/         Poetry's wheels for the target (when Poetry goes in the image)
    <hash-files>                    each at its path relative to the project

Both get these build arguments: BASE_IMAGE, PYTHON_VERSION (X.Y), VENV (/opt/venv),
POETRY_VERSION (empty when Poetry stays out), plus the user's `build-args`.
"""

from __future__ import annotations


VENV = "/opt/venv"
POETRY_HOME = "/opt/poetry"
CONTEXT_DIR = "ci-image"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_TEMPLATE = """\
# The built-in Dockerfile of poetry-ci-image (`poetry image dockerfile` prints it).
# The venvs' files were installed on the host from the locked, hash-checked wheels;
# this build only creates the venvs with the base image's Python and unpacks them in.
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG PYTHON_VERSION
RUN python3 -c "import sys; v = '%d.%d' % sys.version_info[:2]; \\
sys.exit(0 if v == '${{PYTHON_VERSION}}' else 'The base image runs Python ' + v \\
+ ', the target is ${{PYTHON_VERSION}}: set python or base in [tool.poetry-ci-image].')" \\
 && python3 -m venv --without-pip {venv}{poetry_venv}
{poetry_copy}ADD ci-image/venv.tar {venv}/
ENV VIRTUAL_ENV={venv} \\
    PATH={venv}/bin:${{PATH:-{default_path}}}{poetry_path}
"""


def with_labels(dockerfile: str, labels: dict[str, str]) -> str:
    """The Dockerfile with one LABEL instruction appended: one build step, not one per label."""
    if not labels:
        return dockerfile
    pairs = " \\\n      ".join(
        f"{_quote(key)}={_quote(value)}" for key, value in sorted(labels.items())
    )
    return f"{dockerfile.rstrip()}\n\n# Added by poetry-ci-image.\nLABEL {pairs}\n"


def _quote(text: str) -> str:
    """A double-quoted Dockerfile word: no variable expansion, no line break."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return '"' + " ".join(escaped.splitlines()) + '"'


def builtin_dockerfile(*, with_poetry: bool) -> str:
    """The built-in Dockerfile: with Poetry in its own venv, or without it."""
    return _TEMPLATE.format(
        venv=VENV,
        poetry_venv=f" \\\n && python3 -m venv --without-pip {POETRY_HOME}" if with_poetry else "",
        poetry_copy=(
            f"ADD ci-image/poetry-venv.tar {POETRY_HOME}/\n"
            # Poetry runs in every CI job: its bytecode saves each job about 2 s of start-up.
            f"RUN {POETRY_HOME}/bin/python -m compileall -q -j 0 {POETRY_HOME}/lib\n"
            if with_poetry
            else ""
        ),
        poetry_path=f":{POETRY_HOME}/bin" if with_poetry else "",
        default_path=DEFAULT_PATH,
    )
