"""Operations: assignments, webhooks and the scheduled jobs.

assignments (create, cancel, reassign, read), assignment_rules (checks, windows, cooldown),
assignment_import (CSV), assignment_feeds (visits and phones), assignment_deadlines (expiry,
reminders); webhooks (subscriptions, log), webhook_events (queueing), webhook_bodies (what each
audience is told), webhook_targets (public addresses only), webhook_http (the POST), delivery
(the fair, pausing job); jobs (job functions, leases), clock, scheduler (APScheduler glue).
"""
