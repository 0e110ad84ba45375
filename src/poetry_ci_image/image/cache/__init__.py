"""What the builder keeps between runs, under Poetry's cache directory (`<cache-dir>/ci-image`).

build_cache.py  `BuildCache`: the stores below, one root, and the pruning of all of it
keys.py         a key names one content: the hash of everything the content depends on
records.py      small JSON records by key, each read or written noted as used
file_lists.py   `files/<key>.json`: the files a wheel installs (paths, sizes, digests; no bytes)
layer_store.py  `layers/<key>.json` -> a layer written into the blob store; `groups/<key>.json`
                -> the layers a set of inputs known before any download was found to be
facts.py        `facts/<key>.json`: small facts ("this base ships its standard library's pycs")
blob_store.py   `blobs/sha256/<hex>`: layers written, base layers kept for `image build`
pruning.py      what no run used for `KEEP_DAYS` days goes

The other directories under the root are kept by their owners, and pruned here too: `bases/`
(the facts of each base's files), `roots/` (the base's files that run on the host:
image/base_root.py), `poetry/` (Poetry's wheels for a target), `places/` (where this runner
pushed each blob), `apt/` (the system packages' release files, indexes and .debs, by sha256),
`builds/` (the sdists whose build failed on this host, so they are not built again);
`interpreters/` held the bases' CPythons before `roots/`.
"""
