"""Calibration labels across many observers: chance alone must rarely earn "lenient" or "harsh"."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from fieldobs.scores.calibration import Cell, calibrate
from fieldobs.scoring.stats import LEVEL, Moments

FALSE_DISCOVERY_RATE = 1.0 - LEVEL  # the documented level: 10 %
SEEDS = range(200)


def shops(
    seed: int, observers: int, biased: int = 0, bias: float = 12.0, visits: int = 3
) -> list[Cell]:
    """Return a year's half of mystery shops at 12 stores; observers below `biased` add `bias`.

    Store levels differ (N(80, 8)); a visit scores its store's level plus noise N(0, 10),
    clipped to 0..100, and one visit in 20 fails a critical item and scores 0.
    """
    rng = random.Random(seed)
    cells: list[Cell] = []
    for _store in range(12):
        level = rng.gauss(80, 8)
        for _month in range(6):
            scores: dict[int, list[float]] = defaultdict(list)
            for _ in range(visits):
                observer = rng.randrange(observers)
                shift = bias if observer < biased else 0.0
                score = min(100.0, max(0.0, level + shift + rng.gauss(0, 10)))
                scores[observer].append(0.0 if rng.random() < 0.05 else score)
            cells.append([(observer, Moments.of(values)) for observer, values in scores.items()])
    return cells


def labelled(cells: list[Cell]) -> dict[int, str]:
    return {
        observer: found.tendency
        for observer, found in calibrate(cells).items()
        if found.tendency in ("lenient", "harsh")
    }


@pytest.mark.parametrize("observers", [2, 8])
def test_observers_from_one_model_are_rarely_labelled(observers: int) -> None:
    # Every label is false here, so the false discovery rate is the share of runs with any.
    runs_with_a_label = sum(bool(labelled(shops(seed, observers))) for seed in SEEDS)
    assert runs_with_a_label / len(SEEDS) <= FALSE_DISCOVERY_RATE


def test_the_share_of_false_labels_stays_under_the_documented_rate() -> None:
    # Three of ten observers really score 12 points high; the labels should find them.
    false_shares, found = [], 0
    for seed in SEEDS:
        labels = labelled(shops(seed, observers=10, biased=3))
        false = [o for o, label in labels.items() if o >= 3 or label == "harsh"]
        false_shares.append(len(false) / max(1, len(labels)))
        found += len(labels) - len(false)
    assert sum(false_shares) / len(SEEDS) <= FALSE_DISCOVERY_RATE
    assert found / (3 * len(SEEDS)) > 0.1  # while some real leniency is still caught


def test_an_observer_in_one_cell_only_gets_no_label() -> None:
    cells: list[Cell] = [[(1, Moments.of([100.0, 100.0])), (2, Moments.of([50.0, 40.0]))]]
    found = calibrate(cells)
    assert found[1].deviation == pytest.approx(55.0)
    assert (found[1].tendency, found[1].low, found[1].p_value) == (None, None, None)
