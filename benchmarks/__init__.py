"""Benchmarks: poetry-ci-image against the plain Dockerfile recipe (see benchmarks/README.md)."""
