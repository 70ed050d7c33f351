"""Names vulture cannot see used: a framework reads them, or they are kept on purpose.

`make lint` runs vulture on fieldobs/, sync/ and bench/ with this file ([tool.vulture] in
pyproject.toml, where routes, click commands, request hooks and marshmallow hooks are skipped by
their decorators). Add a name here only with the reason it is not dead.
"""

from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# Marshmallow fields: the keys of the documents the API reads and returns (fieldobs/api/,
# fieldobs/checklists/format/), and marshmallow's and flask-smorest's own declarations.
_.window_start, _.window_end, _.location_name, _.created_at, _.updated_at, _.submitted_at
_.expired_at, _.cancelled_at, _.replaced_by, _.reminded_at, _.expires_at, _.external_ref
_.disabled, _.disabled_at, _.users, _.status_before, _.reviews, _.visit_status
_.failing_since, _.paused_at, _.rank_low, _.rank_high, _.tied_for_top, _.unranked
_.within_sd, _.between_sd, _.locations_with_visits, _.section_title, _.times_short
_.frequency, _.points_lost, _.impact, _.mystery_shop, _.false_discovery_rate, _.guidance
_.title, _.critical_zeroes, _.field_problems, _.ERROR_SCHEMA, _.Meta, _.default_error_messages
_.published_at, _.received_at, _.released_at, _.times_returned, _.delivered_at
_.validators  # bench/ingest.py lifts a field's validators to time the rest

# Attributes and methods that Flask, Werkzeug, sqlite3 and io read.
_.sort_keys, _.private, _.no_cache, _.max_age, _.isolation_level, _.row_factory
_.body_limit  # g.body_limit, read back by the 413 handler (fieldobs/api/errors.py)
_.readable, _.readinto  # io.RawIOBase (fieldobs/api/limits.py's CappedStream)
_.exc_type, _.tb  # the __exit__ protocol
_.line_chart, _.hbar  # called by the console's templates (fieldobs/web/console/templates/)
_.LOAD_TRUNCATED_IMAGES  # Pillow's decoders read it (fieldobs/web/pdf.py sets it back)
_.mtime_ns  # the field app's asset cache key: a changed file is read again

# Kept on purpose.
_.json_schema_of  # tests/api/test_malformed_json.py reads the views' bodies beside takes_json
_.adjust  # Shrinkage.adjust: the reference the ranking's inlined copy is held to in tests
_.close_thread_connection  # tests release a database file (its docstring)
# The client kit's API for phone-app developers (sync/ is its own distribution).
_.health, _.terminate, _.complete, _.resumed_from, _.done_at
