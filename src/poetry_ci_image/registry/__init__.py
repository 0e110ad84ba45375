"""Registries, through their HTTP API (no Docker engine); this package knows no image.

client.py       one registry's API: manifests, blobs, uploads, mounts, with auth and retries
auth.py         answering a registry's challenge: Basic, or Bearer tokens by scope
retry.py        what is worth another try, how long to wait, how to say so
refusal.py      what a registry's refusal becomes: one RegistryError that says what to do
wire.py         a registry's base URL, a manifest as received, a request body
registries.py   the registries of one run (credentials, the Docker Hub mirror): the seam
credentials.py  whose credentials: the Docker configuration, then the CI platform's
transfer.py     blobs and manifests into a repository, the tag last
blob_places.py  where this runner pushed each blob before, to mount it from there
"""
