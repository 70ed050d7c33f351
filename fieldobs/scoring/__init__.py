"""Scoring (pure): answer validation, the scoring engine, its compiled fast plan, statistics."""
