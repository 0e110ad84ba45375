"""The image's bytecode, compiled by the base's own CPython and written in one canonical form.

maker.py     which interpreter compiles for which platform, made when first needed (the
             interpreter runs on the host from the base's root: ../base_root.py and
             ../base_runtime.py)
compiler.py  compile servers of one runtime, shared by the threads that install the wheels
server.py    the compile server, run by the target's interpreter (Python 3.8+, stdlib only)
canonical.py one byte form for a marshal stream (run inside the target's interpreter too)
stdlib.py    where a pyc goes, and the standard library's modules the base has none for
"""
