"""Scores over time: rollups, series, fair rankings and insights.

Every figure is read from the rollups and carries the number of visits behind it; the
statistics (fieldobs.scoring.stats) work on counts, sums and sums of squares. The modules:
periods (weeks and months), contribution (which visits count and what each adds), rollups
(kept in step with each change), rebuild (from scratch), series, ranking, priorities, gap,
calibration, and cache (each app's cached answers and what they depend on).

The entry points the API and the web pages call are re-exported here.
"""

from fieldobs.scores.cache import BodyCache, data_version, score_caches
from fieldobs.scores.calibration import observer_calibration
from fieldobs.scores.contribution import KINDS, RANKED_KIND
from fieldobs.scores.gap import location_gap
from fieldobs.scores.periods import resolve_at
from fieldobs.scores.priorities import area_priorities, location_priorities
from fieldobs.scores.ranking import area_ranking, overall_ranking
from fieldobs.scores.series import SeriesQuery, series_of, series_query

__all__ = [
    "KINDS",
    "RANKED_KIND",
    "BodyCache",
    "SeriesQuery",
    "area_priorities",
    "area_ranking",
    "data_version",
    "location_gap",
    "location_priorities",
    "observer_calibration",
    "overall_ranking",
    "resolve_at",
    "score_caches",
    "series_of",
    "series_query",
]
