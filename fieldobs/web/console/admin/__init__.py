"""Admin pages: review queue, assignments, stores, people, calibration, webhooks, jobs.

Each form posts to its own small view, which calls the same domain function as the API and
redirects back (303) with a notice, or re-renders the page with the errors (422).
"""

# Importing the modules adds their routes to the console blueprint.
from fieldobs.web.console.admin import assignments, people, review, stores, system  # noqa: F401
