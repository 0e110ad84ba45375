"""System packages (`system-packages`): Debian packages installed into the image with no engine,
the way apko and rules_distroless do it, from the base's own archive and checked by its own
keyrings. The layers they make are image/system_layers.py's.

apt_sources.py the archives and suites: the base's apt sources, or `system-sources`
archive.py    HTTP(S) access to them, every file checked against a signed hash, kept by hash
release.py    a suite's release file, its signature checked by the base's gpgv
index.py      the Packages indexes (what can be installed) and dpkg's database (what is)
versions.py   Debian versions, ordered as dpkg orders them
control.py    the control format (deb822) and relation fields
resolver.py   what a request installs, as `apt-get install --no-install-recommends` decides
packages.py   the steps in order, per platform: sources -> releases -> indexes -> resolution
deb.py        a .deb's control members and files, read on the host
database.py   dpkg's and apt's records: status, info files, extended states, alternatives
scripts.py    what the maintainer scripts would have done (none of them runs)
libraries.py  the image's shared libraries, and from them the loader's cache (ldcache.py)
ldcache.py    /etc/ld.so.cache, as ldconfig writes it
"""
