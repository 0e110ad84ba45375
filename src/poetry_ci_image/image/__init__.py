"""The built-in recipe's image, made on the host without a Docker engine.

files.py     a wheel's files at their paths in the image's venv
venv.py      the venv's skeleton (pyvenv.cfg, the python links), from the base's Python
layers.py    which package goes into which layer; overlapping files
tarball.py   a layer's bytes: deterministic tar + gzip
base.py      the base image from its registry: manifest, config, and facts of its files
config.py    the image's config, manifest and index
cache.py     what is kept between runs (file lists, layers, blobs)
assemble.py  the steps in order: plan -> files -> layers -> image
layout.py    the image on the host: an OCI image layout, a `docker load` stream
"""
