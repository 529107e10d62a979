"""Split-conformal p-values, thresholds and z-score statistics against hand-computed numbers.

Every expected value below is written out by hand (literal fractions), not recomputed with the
formula under test. Calibration set with ties used throughout:

    cal = [1, 2, 2, 3, 5]        n_cal = 5,  n_cal + 1 = 6
    p(s) = (1 + #{c in cal : c >= s}) / 6
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from molood.detectors.calibration import (
    SIGMA_EPS,
    conformal_pvalues,
    conformal_threshold,
    zscore_stats,
)

CAL = np.array([3.0, 1.0, 5.0, 2.0, 2.0])  # deliberately unsorted; sorted: 1, 2, 2, 3, 5

# (query score, #{c >= s} counted by hand, expected p-value as a literal fraction)
PVALUE_TABLE = [
    (-math.inf, 5, 6 / 6),
    (0.0, 5, 6 / 6),   # below everything
    (1.0, 5, 6 / 6),   # equal to the minimum: counts itself
    (1.5, 4, 5 / 6),   # between 1 and the tie
    (2.0, 4, 5 / 6),   # equal to the tied value: both 2s count
    (2.5, 2, 3 / 6),   # just above the tie
    (3.0, 2, 3 / 6),
    (4.0, 1, 2 / 6),
    (5.0, 1, 2 / 6),   # equal to the maximum
    (5.5, 0, 1 / 6),   # above all: the smallest possible p-value
    (math.inf, 0, 1 / 6),
]


def test_conformal_pvalues_hand_computed_with_ties():
    s = np.array([row[0] for row in PVALUE_TABLE] + [np.nan])
    expected = np.array([row[2] for row in PVALUE_TABLE] + [np.nan])
    p = conformal_pvalues(CAL, s)
    assert p.dtype == np.float64 and p.shape == s.shape
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-15, equal_nan=True)
    assert np.isnan(p[-1])
    # shape preserved for 2-D queries, scalar works
    np.testing.assert_allclose(conformal_pvalues(CAL, np.array([[0.0, 2.0], [2.5, 9.0]])),
                               [[1.0, 5 / 6], [3 / 6, 1 / 6]], rtol=0, atol=1e-15)
    assert float(conformal_pvalues(CAL, 2.0)) == pytest.approx(5 / 6, abs=1e-15)


def test_conformal_pvalues_are_exact_ranks_leave_one_out():
    """20 distinct scores; each one as the query and the other 19 as the calibration set: the
    p-value is (its rank from the top) / 20, so the 20 p-values are exactly 1/20, ..., 20/20,
    each once, i.e. P(p <= k/20) = k/20 for an exchangeable query (the conformal guarantee)."""
    rng = np.random.RandomState(0)
    vals = rng.permutation(np.arange(20.0)) * 0.37 - 2.0  # distinct
    ps = []
    for i in range(20):
        p = conformal_pvalues(np.delete(vals, i), vals[i : i + 1])[0]
        rank_from_top = int((vals > vals[i]).sum()) + 1  # 1 for the largest score
        assert p == pytest.approx(rank_from_top / 20, abs=1e-15)
        ps.append(p)
    np.testing.assert_allclose(np.sort(ps), np.arange(1, 21) / 20, rtol=0, atol=1e-15)


def test_conformal_pvalues_empty_calibration():
    # no calibration scores: (1 + 0) / (0 + 1) = 1 for every query
    np.testing.assert_array_equal(conformal_pvalues(np.zeros(0), np.array([-1.0, 7.0])),
                                  [1.0, 1.0])


# (fpr, expected threshold) for CAL; hand derivation: p(s) <= fpr needs #{c >= s} <=
# floor(6 fpr) - 1 =: m, i.e. s above the (m+1)-th largest of [5, 3, 2, 2, 1].
THRESHOLD_TABLE = [
    (0.01, math.inf),    # 6*0.01 < 1: even the top score has p = 1/6 > fpr: nothing flagged
    (0.1, math.inf),
    (0.16, math.inf),    # just below 1/6
    (1 / 6, 5.0),        # m = 0: only s > 5 (p = 1/6)
    (0.2, 5.0),
    (0.3, 5.0),
    (2 / 6, 3.0),        # m = 1: s > 3 (p = 2/6)
    (0.4, 3.0),
    (3 / 6, 2.0),        # m = 2: s > 2 (p = 3/6)
    (0.6, 2.0),
    (4 / 6, 2.0),        # m = 3: the 4th largest is the tied 2 again; s = 2 has p = 5/6
    (0.8, 2.0),
    (5 / 6, 1.0),        # m = 4: s > 1 (p <= 5/6); s = 1 has p = 1
    (0.9, 1.0),
    (0.99, 1.0),         # the smallest calibration score; s <= 1 always has p = 1 > fpr
]


@pytest.mark.parametrize("fpr,expected", THRESHOLD_TABLE)
def test_conformal_threshold_hand_computed(fpr, expected):
    assert conformal_threshold(CAL, fpr) == expected


def test_threshold_edge_cases():
    assert conformal_threshold(np.zeros(0), 0.5) == math.inf
    # one calibration score: p is 1/2 above it, 1 at or below it
    assert conformal_threshold(np.array([4.0]), 0.4) == math.inf
    assert conformal_threshold(np.array([4.0]), 0.5) == 4.0
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="fpr"):
            conformal_threshold(CAL, bad)


FPR_GRID = [0.01, 0.1, 0.16, 1 / 6, 0.2, 0.25, 2 / 6, 0.4, 3 / 6, 0.55, 4 / 6, 0.7, 5 / 6,
            0.9, 0.99]
SCORE_GRID = np.unique(np.r_[np.linspace(-1.0, 7.0, 81), CAL, CAL - 1e-9, CAL + 1e-9,
                             -math.inf, math.inf])


@pytest.mark.parametrize("fpr", FPR_GRID)
def test_threshold_and_pvalue_flag_the_same_scores(fpr):
    """score > threshold(fpr)  <=>  pvalue <= fpr, on a grid that hits every (tied) value."""
    t = conformal_threshold(CAL, fpr)
    p = conformal_pvalues(CAL, SCORE_GRID)
    np.testing.assert_array_equal(SCORE_GRID > t, p <= fpr)


def test_flag_counts_on_the_calibration_scores_themselves():
    """Scoring the calibration molecules again (exact ties with cal): p-values are
    [1, 5/6, 5/6, 3/6, 2/6] for scores [1, 2, 2, 3, 5]; at fpr = 2/6 exactly one is flagged
    (the 5), at fpr = 3/6 two (3 and 5), never the tied 2s below fpr = 5/6."""
    p = conformal_pvalues(CAL, np.sort(CAL))
    np.testing.assert_allclose(p, [6 / 6, 5 / 6, 5 / 6, 3 / 6, 2 / 6], rtol=0, atol=1e-15)
    assert (p <= 2 / 6).sum() == 1 and (p <= 3 / 6).sum() == 2 and (p <= 4 / 6).sum() == 2
    assert (p <= 5 / 6).sum() == 4


# ------------------------------------------------------------------ z-score statistics
def test_zscore_stats_population_std():
    mu, sd = zscore_stats(np.array([1.0, 2.0, 3.0, 4.0]))
    assert mu == 2.5
    # population std: sqrt(((1.5)^2 + (0.5)^2 + (0.5)^2 + (1.5)^2) / 4) = sqrt(1.25)
    assert sd == pytest.approx(1.118033988749895, rel=1e-14)
    assert sd != pytest.approx(1.2909944487358056, rel=1e-6)  # the ddof=1 value


def test_zscore_stats_floor_nonfinite_and_empty():
    assert zscore_stats(np.array([3.0, 3.0, 3.0])) == (3.0, SIGMA_EPS)
    assert SIGMA_EPS == 1e-6
    mu, sd = zscore_stats(np.array([3.0, 3.0 + 1e-9]))  # tiny spread is floored too
    assert sd == 1e-6
    mu, sd = zscore_stats(np.array([1.0, np.nan, 3.0, np.inf, -np.inf]))
    assert (mu, sd) == (2.0, 1.0)
    assert zscore_stats(np.zeros(0)) == (0.0, 1.0)
    assert zscore_stats(np.array([np.nan, np.inf])) == (0.0, 1.0)
    mu, sd = zscore_stats([5.0])
    assert (mu, sd) == (5.0, 1e-6)


def test_threshold_as_fpr_approaches_one_flags_all_but_the_smallest():
    cal = np.array([3.0, 1.0, 5.0, 2.0, 2.0])
    for fpr in (5 / 6, 0.99, 1 - 1e-10, 1 - 1e-15):
        assert conformal_threshold(cal, fpr) == 1.0  # p(1) = 1 > fpr: the smallest never flags
