"""The built-in Dockerfile, and the contract every Dockerfile the plugin builds is given.

The build context (see `context.py`) holds:

    Dockerfile                  the Dockerfile being built
    ci-image/requirements.txt   `name==version --hash=sha256:...`, one line per planned package
    ci-image/dists/             the files those lines name (wheels; sdists for your own Dockerfile)
    ci-image/pip.whl            a pip for the target's Python, run as `python ci-image/pip.whl/pip`
    ci-image/poetry/            Poetry's wheels for the target (when Poetry goes into the image)
    <hash-files>                each at its path relative to the project

and these build arguments: BASE_IMAGE, PYTHON_VERSION (X.Y), VENV (/opt/venv), POETRY_VERSION
(empty when Poetry stays out), plus the user's `build-args`.
"""

from __future__ import annotations


VENV = "/opt/venv"
POETRY_HOME = "/opt/poetry"
CONTEXT_DIR = "ci-image"
# The build arguments the plugin passes; `build-args` may not redefine them.
BUILD_ARGS = ("BASE_IMAGE", "PYTHON_VERSION", "VENV", "POETRY_VERSION")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_HEADER = """\
# The built-in Dockerfile of poetry-ci-image (`poetry image dockerfile` prints it).
# It installs exactly the locked distributions shipped in the build context, with no network:
# see "Your own Dockerfile" in the README for the context and the build arguments.
ARG BASE_IMAGE

FROM ${BASE_IMAGE} AS dependencies
ARG PYTHON_VERSION
ARG VENV=/opt/venv
COPY ci-image/pip.whl ci-image/requirements.txt /ci-image/
COPY ci-image/dists/ /ci-image/dists/
RUN python3 -c "import sys; v = '%d.%d' % sys.version_info[:2]; \\
sys.exit(0 if v == '${PYTHON_VERSION}' else 'The base image runs Python ' + v + ', the target is \\
${PYTHON_VERSION}: set python or base in [tool.poetry-ci-image].')" \\
 && python3 -m venv --without-pip "${VENV}" \\
 && "${VENV}/bin/python" /ci-image/pip.whl/pip install --no-index --no-deps --require-hashes \\
    --no-compile --disable-pip-version-check --no-cache-dir --progress-bar off \\
    --find-links /ci-image/dists --requirement /ci-image/requirements.txt
"""

_POETRY_STAGE = """
FROM ${BASE_IMAGE} AS poetry
ARG POETRY_VERSION
COPY ci-image/pip.whl /ci-image/
COPY ci-image/poetry/ /ci-image/poetry/
RUN python3 -m venv --without-pip /opt/poetry \\
 && /opt/poetry/bin/python /ci-image/pip.whl/pip install --no-index \\
    --disable-pip-version-check --no-cache-dir --progress-bar off \\
    --find-links /ci-image/poetry "poetry==${POETRY_VERSION}"
"""

_FINAL = """
FROM ${{BASE_IMAGE}}
ARG VENV=/opt/venv
COPY --from=dependencies ${{VENV}} ${{VENV}}
{poetry_copy}ENV VIRTUAL_ENV=${{VENV}} \\
    PATH=${{VENV}}/bin:${{PATH:-{default_path}}}{poetry_path}
"""


def builtin_dockerfile(*, with_poetry: bool) -> str:
    """The built-in Dockerfile: with a stage that installs Poetry, or without it."""
    final = _FINAL.format(
        poetry_copy="COPY --from=poetry /opt/poetry /opt/poetry\n" if with_poetry else "",
        poetry_path=":/opt/poetry/bin" if with_poetry else "",
        default_path=DEFAULT_PATH,
    )
    return _HEADER + (_POETRY_STAGE if with_poetry else "") + final
