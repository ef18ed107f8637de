"""Renderers of results: they format numbers, they compute none."""
