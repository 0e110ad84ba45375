"""The settings: what the user configured, and the target it describes.

table.py   the one table of keys: types, defaults, help, docs/configuration.md's table
merge.py   `[tool.poetry-ci-image]`, the environment and the options merged into one `Settings`
target.py  the image's interpreter and platform: its markers and wheel tags, never the host's
"""
