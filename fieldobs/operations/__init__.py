"""Operations: assignments, webhooks and the scheduled jobs."""
