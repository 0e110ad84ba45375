"""The names of the image's labels: OCI annotations, and which lock state the image holds.

`docker inspect` then says which fingerprint, schema and target an image was built for. Their
values (jobs/image_job.py `image_labels`) are a function of the fingerprint's inputs alone (no
build time, no git revision, no directory name), so the same lock gives the same image anywhere;
nothing here carries a secret.
"""

from __future__ import annotations


PREFIX = "io.github.poetry-ci-image"
FINGERPRINT_LABEL = f"{PREFIX}.fingerprint"
TARGET_LABEL = f"{PREFIX}.target"
# The system packages the image holds, as installed: `name=version,...` (the tag covers the
# request; the archive's versions are recorded here, and in the image's dpkg database).
SYSTEM_PACKAGES_LABEL = f"{PREFIX}.system-packages"
BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"
