"""Test support: real distributions, a real package index and a real Docker registry on loopback."""

from __future__ import annotations
