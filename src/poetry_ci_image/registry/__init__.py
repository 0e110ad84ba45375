"""Registries, through their HTTP API: `client.py` speaks it, `transfer.py` pushes an image."""
