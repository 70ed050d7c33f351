"""Visits: the visit schema, push (single and batch), reading, review and the pull feed."""
