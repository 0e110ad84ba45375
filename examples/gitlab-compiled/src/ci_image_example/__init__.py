"""The example project's code: read an LDAP distinguished name, with python-ldap's C parser."""

from __future__ import annotations

import ldap.dn


def attributes(dn: str) -> list[str]:
    """The attribute types of a distinguished name, most specific first."""
    return [rdn[0][0] for rdn in ldap.dn.str2dn(dn)]
