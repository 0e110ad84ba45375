"""Your own Dockerfile: the build context it is given, and a Dockerfile to start from.

With `dockerfile` configured, the Docker engine builds that file with this context
(build_context.py):

    Dockerfile                      the Dockerfile being built
    ci-image/requirements.txt       `name==version --hash=sha256:...`, one line per planned package
    ci-image/dists/                 the files those lines name (wheels, and sdists as locked)
    ci-image/pip.whl                a pip for the target's Python: `python ci-image/pip.whl/pip`
    ci-image/poetry-wheels/         Poetry's wheels for the target (when Poetry goes in the image)
    <hash-files>                    each at its path relative to the project

and these build arguments: BASE_IMAGE, PYTHON_VERSION (X.Y), VENV (/opt/venv), POETRY_VERSION
(empty when Poetry stays out), plus the user's `build-args`. The plugin appends one LABEL
instruction with its labels. `poetry image dockerfile` prints `starter_dockerfile()`.
"""

from __future__ import annotations

from poetry_ci_image.tag.recipe import POETRY_HOME
from poetry_ci_image.tag.recipe import VENV


CONTEXT_DIR = "ci-image"

_STARTER = """\
# A Dockerfile to start your own from (`dockerfile = "ci/Dockerfile"` in [tool.poetry-ci-image]).
# It makes what the built-in recipe makes: the locked dependencies in {venv}{poetry_where}.
# Add what your jobs need (system packages, compilers) where marked.
ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
ARG VENV
ARG POETRY_VERSION
# Your additions, e.g.:
# RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev gcc \\
#  && rm -rf /var/lib/apt/lists/*
COPY ci-image/ /tmp/ci-image/
RUN python3 -m venv --without-pip "$VENV" \\
 && "$VENV/bin/python" /tmp/ci-image/pip.whl/pip install --no-index --no-deps --no-compile \\
    --require-hashes --find-links /tmp/ci-image/dists -r /tmp/ci-image/requirements.txt \\
{poetry_install} && rm -rf /tmp/ci-image
ENV VIRTUAL_ENV=$VENV PATH=$VENV/bin:$PATH{poetry_path}
"""

_POETRY_INSTALL = """\
 && python3 -m venv --without-pip {poetry_home} \\
 && {poetry_home}/bin/python /tmp/ci-image/pip.whl/pip install --no-index --no-deps \\
    --find-links /tmp/ci-image/poetry-wheels /tmp/ci-image/poetry-wheels/*.whl \\
"""


def starter_dockerfile(*, with_poetry: bool) -> str:
    """A Dockerfile for the context above: the venv from the locked files, Poetry if wanted."""
    return _STARTER.format(
        venv=VENV,
        poetry_where=f",\n# Poetry in {POETRY_HOME}" if with_poetry else "",
        poetry_install=_POETRY_INSTALL.format(poetry_home=POETRY_HOME) if with_poetry else "",
        poetry_path=f":{POETRY_HOME}/bin" if with_poetry else "",
    )


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
