"""Scores over time: rollups, series, fair rankings and insights."""
