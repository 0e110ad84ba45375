"""What a request installs on a base, as `apt-get install --no-install-recommends` decides: a
table of requests over a small archive and base written in the archive's own format.

(Against the real archive, the resolution of the four real projects' lists is compared with
apt's own in tests/integration/test_system_packages.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from poetry_ci_image.errors import SystemPackageError
from poetry_ci_image.image.system.apt_sources import AptSource
from poetry_ci_image.image.system.control import relation_of
from poetry_ci_image.image.system.index import Universe
from poetry_ci_image.image.system.index import installed_packages
from poetry_ci_image.image.system.resolver import resolve


ARCHIVE = """\
Package: libc6
Version: 2.36-9+deb12u4
Architecture: amd64
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u4_amd64.deb

Package: libc6
Version: 2.38-1
Architecture: amd64
Filename: pool/main/g/glibc/libc6_2.38-1_amd64.deb

Package: libpq5
Version: 15.10-0+deb12u1
Architecture: amd64
Depends: libc6 (>= 2.34), libgssapi-krb5-2 (>= 1.17), libldap-2.5-0 (>= 2.5.4), libssl3 (>= 3.0.0)
Recommends: postgresql-common
Filename: pool/main/p/postgresql-15/libpq5_15.10-0+deb12u1_amd64.deb

Package: libgssapi-krb5-2
Version: 1.20.1-2+deb12u2
Architecture: amd64
Depends: libc6 (>= 2.33)
Filename: pool/main/k/krb5/libgssapi-krb5-2_1.20.1-2+deb12u2_amd64.deb

Package: libldap-2.5-0
Version: 2.5.13+dfsg-5
Architecture: amd64
Pre-Depends: libc6 (>= 2.34)
Depends: libsasl2-2 (>= 2.1.28+dfsg1)
Filename: pool/main/o/openldap/libldap-2.5-0_2.5.13+dfsg-5_amd64.deb

Package: libsasl2-2
Version: 2.1.28+dfsg1-2
Architecture: amd64
Depends: libsasl2-modules-db (>= 2.1.28+dfsg1-2)
Filename: pool/main/c/cyrus-sasl2/libsasl2-2_2.1.28+dfsg1-2_amd64.deb

Package: libsasl2-modules-db
Version: 2.1.28+dfsg1-2
Architecture: amd64
Depends: libdb5.3
Filename: pool/main/c/cyrus-sasl2/libsasl2-modules-db_2.1.28+dfsg1-2_amd64.deb

Package: libssl3
Version: 3.0.15-1~deb12u1
Architecture: amd64
Filename: pool/main/o/openssl/libssl3_3.0.15-1~deb12u1_amd64.deb

Package: postgresql-common
Version: 248
Architecture: all
Filename: pool/main/p/postgresql-common/postgresql-common_248_all.deb

Package: mawk
Version: 1.3.4.20200120-3.1
Architecture: amd64
Provides: awk
Filename: pool/main/m/mawk/mawk_1.3.4.20200120-3.1_amd64.deb

Package: gawk
Version: 1:5.2.1-2
Architecture: amd64
Provides: awk
Filename: pool/main/g/gawk/gawk_5.2.1-2_amd64.deb

Package: needs-awk
Version: 1.0
Architecture: all
Depends: awk
Filename: pool/main/n/needs-awk/needs-awk_1.0_all.deb

Package: mail-transport-agent-user
Version: 1.0
Architecture: all
Depends: exim4 | mail-transport-agent
Filename: pool/main/m/mta-user/mta-user_1.0_all.deb

Package: postfix
Version: 3.7.11-0+deb12u1
Architecture: amd64
Provides: mail-transport-agent
Conflicts: mail-transport-agent
Filename: pool/main/p/postfix/postfix_3.7.11-0+deb12u1_amd64.deb

Package: old-ssl-user
Version: 1.0
Architecture: amd64
Depends: libssl1.1
Filename: pool/main/o/old-ssl-user/old-ssl-user_1.0_amd64.deb

Package: breaks-libc
Version: 1.0
Architecture: amd64
Breaks: libc6 (<< 2.37)
Filename: pool/main/b/breaks-libc/breaks-libc_1.0_amd64.deb

Package: gcc-13
Version: 13.1.0-1
Architecture: amd64
Filename: pool/main/g/gcc-13/gcc-13_13.1.0-1_amd64.deb
"""

BACKPORTS = """\
Package: libpq5
Version: 16.4-1~bpo12+1
Architecture: amd64
Depends: libc6 (>= 2.34)
Filename: pool/main/p/postgresql-16/libpq5_16.4-1~bpo12+1_amd64.deb
"""

BASE = """\
Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: libdb5.3
Status: install ok installed
Architecture: amd64
Version: 5.3.28+dfsg2-1

Package: libssl3
Status: install ok installed
Architecture: amd64
Version: 3.0.15-1~deb12u1

Package: libgssapi-krb5-2
Status: deinstall ok config-files
Architecture: amd64
Version: 1.20.1-2+deb12u1
"""


@dataclass(frozen=True)
class FakeRelease:
    source: AptSource
    not_automatic: bool = False


def universe() -> Universe:
    found = Universe()
    main = AptSource("http://archive.example/debian", "bookworm", ("main",), ())
    backports = AptSource("http://archive.example/debian", "bookworm-backports", ("main",), ())
    found.add_index(ARCHIVE, FakeRelease(main), "amd64")  # type: ignore[arg-type]
    found.add_index(BACKPORTS, FakeRelease(backports, True), "amd64")  # type: ignore[arg-type]
    return found


def installs(*request: str) -> list[str]:
    resolution = resolve(
        [relation_of(item) for item in request],
        universe(),
        installed_packages(BASE.encode()),
        "bookworm (archive.example)",
    )
    return [f"{c.name} {c.version}" for c in resolution.packages]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            ("libpq5",),
            [
                "libgssapi-krb5-2 1.20.1-2+deb12u2",
                "libldap-2.5-0 2.5.13+dfsg-5",
                "libpq5 15.10-0+deb12u1",
                "libsasl2-2 2.1.28+dfsg1-2",
                "libsasl2-modules-db 2.1.28+dfsg1-2",
            ],
            id="dependencies come along; what the base has (libc6, libssl3, libdb5.3) does not; "
            "a package removed but for its conffiles counts as absent; no Recommends",
        ),
        pytest.param(("libssl3",), [], id="a package the base has is not installed again"),
        pytest.param(
            ("libpq5=16.4-1~bpo12+1",),
            ["libpq5 16.4-1~bpo12+1"],
            id="a NotAutomatic suite (backports) serves a pinned version",
        ),
        pytest.param(
            ("needs-awk",),
            ["gawk 1:5.2.1-2", "needs-awk 1.0"],
            id="a virtual dependency with two providers: the first by priority, then name",
        ),
        pytest.param(
            ("mawk", "needs-awk"),
            ["mawk 1.3.4.20200120-3.1", "needs-awk 1.0"],
            id="a virtual dependency a requested package provides needs nothing more",
        ),
        pytest.param(
            ("mail-transport-agent-user",),
            ["mail-transport-agent-user 1.0", "postfix 3.7.11-0+deb12u1"],
            id="the first alternative that can be installed; a package may conflict with what "
            "it provides",
        ),
        pytest.param(
            ("libc6=2.38-1",),
            ["libc6 2.38-1"],
            id="a pinned version the base does not have replaces the base's",
        ),
    ],
)
def test_what_a_request_installs(request_: tuple[str, ...], expected: list[str]) -> None:
    assert installs(*request_) == expected


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        pytest.param(
            ("libpq6",),
            "No package named libpq6 in bookworm (archive.example).",
            id="an unknown name says which release was searched",
        ),
        pytest.param(
            ("libpq5=14.1-1",),
            "No version of libpq5 in bookworm (archive.example) is = 14.1-1 (it has "
            "16.4-1~bpo12+1, 15.10-0+deb12u1).",
            id="a version the archive lacks lists the ones it has",
        ),
        pytest.param(
            ("old-ssl-user",),
            "old-ssl-user 1.0 needs libssl1.1, and no package in bookworm (archive.example) "
            "satisfies it (old-ssl-user, asked for in system-packages).",
            id="an unsatisfiable dependency names the chain that needs it",
        ),
        pytest.param(
            ("awk",),
            "awk is a virtual package, provided by gawk, mawk.",
            id="a virtual package asked for by name: which to choose",
        ),
        pytest.param(
            ("breaks-libc",),
            "The system packages cannot be installed together: breaks-libc 1.0 conflicts with "
            "libc6.",
            id="Breaks against the base's version",
        ),
    ],
)
def test_what_cannot_be_installed_is_said(request_: tuple[str, ...], message: str) -> None:
    with pytest.raises(SystemPackageError) as raised:
        installs(*request_)
    assert raised.value.message == message


def test_the_set_does_not_depend_on_the_order_of_the_request() -> None:
    """The result is sorted by name; asking in another order installs the same set."""
    assert installs("libpq5", "mawk", "needs-awk") == installs("needs-awk", "mawk", "libpq5")


def test_an_index_paragraph_keeps_its_text() -> None:
    """A candidate's fields are its paragraph's, parsed when asked for."""
    newest, bookworm = universe().named("libpq5")
    assert str(newest.version) == "16.4-1~bpo12+1"
    assert bookworm.fields["Recommends"] == "postgresql-common"
    assert bookworm.text.startswith("Package: libpq5\nVersion: 15.10-0+deb12u1\n")
