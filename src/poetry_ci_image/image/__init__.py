"""The built-in recipe's image, made on the host without a Docker engine.

spec.py               every input of the image, as plain values (`BuildSpec`)
assemble.py           the steps in order: base -> layers -> config, manifest, index
base_image.py         the base image from its registry: its manifest and config for the platform
base_files.py         what the base's files say (its Pythons, their versions, its libc), read
                      from its layers without running it
layer_writer.py       every layer the plugin adds, in image order, written or found in the cache
layer_context.py      what writing the layers shares (inputs, sources of wheels, cache, threads)
venv.py               the venvs' skeleton (pyvenv.cfg, the python links), from the base's Python
poetry_layers.py      Poetry's venv, in two layers
dependency_layers.py  the dependencies' layers: staged, grouped, written, ordered
files.py              a wheel's files at their paths in the image's venv
layers.py             the layer rule (which package goes into which layer); overlapping files
tarball.py            a layer's bytes: deterministic tar + gzip
config.py             the image's config, manifest and index
layout.py             the image on the host: an OCI image layout, a `docker load` stream
cache/                what is kept between runs (file lists, layers, facts, blobs), and pruning
bytecode/             the pycs of every Python layer, compiled by the base's own CPython
"""
