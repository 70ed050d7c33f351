"""Helpers that tests share (never imported from a test module)."""
