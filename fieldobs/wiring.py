"""Connect the domain's event handlers, visit flaggers and pull feeds, once per app."""

from __future__ import annotations

from fieldobs import events
from fieldobs.operations import assignment_feeds, assignments, webhook_events
from fieldobs.scores import rollups
from fieldobs.storage.app_state import AppState
from fieldobs.visits import review
from fieldobs.visits.pull import register_feed
from fieldobs.visits.push import add_flagger


def connect(state: AppState) -> None:
    """Subscribe rollups, webhooks and other reactions to the domain events of one app."""
    # Each feature registers here, so the order of reactions inside a commit is explicit.
    events.subscribe(state, events.VISIT_CHANGED, rollups.on_visit_changed)
    events.subscribe(state, events.LOCATION_TIMEZONE_CHANGED, rollups.on_location_timezone_changed)
    # Assignments: a visit completes the assignment it names; a mismatch is flagged.
    add_flagger(state, assignment_feeds.flag_visit)
    events.subscribe(state, events.VISIT_CHANGED, assignment_feeds.on_visit_changed)
    register_feed(state, "assignment", "assignments", assignment_feeds.load_feed)
    register_feed(state, "notification", "notifications", assignment_feeds.load_notification_feed)
    # Review: a returned visit reaches its observer's phone, and leaves it once corrected.
    events.subscribe(state, events.VISIT_RETURNED, review.on_visit_returned)
    events.subscribe(state, events.VISIT_CHANGED, review.on_visit_changed)
    register_feed(state, "visit", "returned_visits", review.load_returned_feed)
    # Webhooks: deliveries are queued in the transaction of the event they announce.
    events.subscribe(state, events.VISIT_SUBMITTED, webhook_events.on_visit_submitted)
    events.subscribe(state, events.VISIT_RELEASED, webhook_events.on_visit_released)
    events.subscribe(state, events.VISIT_RETURNED, webhook_events.on_visit_returned)
    events.subscribe(state, assignments.ASSIGNMENT_EXPIRED, webhook_events.on_assignment_expired)
