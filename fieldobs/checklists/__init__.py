"""Checklists: the TOML file format and the published, immutable versions."""
