"""The package version: one place, read by pyproject.toml and by everything that records it."""


__version__ = "0.1.0"
