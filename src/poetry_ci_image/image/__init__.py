"""The built-in recipe's image, made on the host without a Docker engine.

base_image.py    the base image from its registry: its manifest and config for the platform
base_files.py    what the base's files say (its Pythons, their versions, its libc), read from
                 its layers without running it
venv.py          the venv's skeleton (pyvenv.cfg, the python links), from the base's Python
files.py         a wheel's files at their paths in the image's venv
layers.py        which package goes into which layer; overlapping files
tarball.py       a layer's bytes: deterministic tar + gzip
build_cache.py   what is kept between runs (file lists, layers, blobs)
layer_writer.py  every layer of every platform, written or found in the build cache
config.py        the image's config, manifest and index
assemble.py      the steps in order: plan -> files -> layers -> image
layout.py        the image on the host: an OCI image layout, a `docker load` stream
"""
