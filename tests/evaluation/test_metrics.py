"""molood.evaluation.metrics: AUROC, AUPR and FPR@95 against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from molood.evaluation.metrics import aupr, auroc, fpr95


def _vectors():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(37), np.ones(23)].astype(int)
    s = np.round(rng.normal(size=60) + 0.8 * y, 1)   # rounded: plenty of ties
    return y, s


def test_metrics_match_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    for y, s in [_vectors(), (np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])),
                 (np.array([1, 0, 1, 0, 1]), np.array([1.0, 1.0, 1.0, 1.0, 1.0]))]:
        assert auroc(y, s) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
        assert aupr(y, s) == pytest.approx(sk.average_precision_score(y, s), abs=1e-12)
        fpr, tpr, _ = sk.roc_curve(y, s, drop_intermediate=False)
        assert fpr95(y, s) == pytest.approx(fpr[np.searchsorted(tpr, 0.95)], abs=1e-12)


def test_metrics_fixed_values():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    assert auroc(y, s) == pytest.approx(0.75)
    assert aupr(y, s) == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))
    assert fpr95(y, s) == pytest.approx(0.5)
    assert fpr95([0, 0, 1, 1], [0, 1, 2, 3]) == 0.0
    assert auroc([0, 1], [1, 0]) == 0.0
    with pytest.raises(ValueError):
        auroc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError):
        auroc([0, 1], [0.1, np.nan])
