"""The detector contract of BaseDetector, on a toy numpy detector (no torch)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from molood.detectors.calibration import conformal_pvalues, conformal_threshold
from molood.exceptions import MoloodError, NotFittedError

RNG = np.random.RandomState(0)
TRAIN = RNG.normal(size=(80, 3))
QUERY = np.vstack([RNG.normal(size=(5, 3)), [[9.0, 9.0, 9.0]], [[np.nan, 0.0, 0.0]]])


@pytest.fixture()
def fitted(toy_detector_cls):
    return toy_detector_cls(fpr=0.1).fit(TRAIN)


def test_constructor_is_keyword_only_and_stores_params(toy_detector_cls):
    with pytest.raises(TypeError):
        toy_detector_cls(0.1)
    det = toy_detector_cls(fpr=0.2)
    assert det.get_params() == {"fpr": 0.2, "cal_share": 0.25}
    assert repr(det) == "ToyMeanDetector(fpr=0.2)"
    assert det.set_params(cal_share=0.5) is det and det.cal_share == 0.5
    with pytest.raises(ValueError, match="invalid parameter 'nope'"):
        det.set_params(nope=1)


def test_unfitted_raises_not_fitted(toy_detector_cls):
    det = toy_detector_cls()
    for call in (det.pvalue, det.predict, det.decision_function):
        with pytest.raises(NotFittedError, match="not fitted"):
            call(QUERY)
    with pytest.raises(NotFittedError):
        det.threshold()
    assert issubclass(NotFittedError, (MoloodError, ValueError, AttributeError))


def test_sklearn_clone(toy_detector_cls, fitted):
    from sklearn.base import clone

    c = clone(fitted)
    assert type(c) is type(fitted) and c.get_params() == fitted.get_params()
    assert not hasattr(c, "cal_scores_")  # unfitted copy


def test_calibration_attributes_and_default_fpr(fitted):
    assert fitted.n_cal_ == 20 and fitted.fpr_ == 0.1
    assert np.all(np.diff(fitted.cal_scores_) >= 0)
    assert fitted.threshold_ == fitted.threshold() == conformal_threshold(fitted.cal_scores_, 0.1)


def test_pvalue_threshold_decision_predict_agree(fitted):
    s = fitted.score_samples(QUERY)
    np.testing.assert_array_equal(fitted.pvalue(QUERY), conformal_pvalues(fitted.cal_scores_, s))
    for fpr in (None, 0.05, 0.3):
        thr = fitted.threshold(fpr)
        d = fitted.decision_function(QUERY, fpr=fpr)
        np.testing.assert_array_equal(d, s - thr)
        flags = fitted.predict(QUERY, fpr=fpr)
        assert str(flags.dtype) == "boolean"
        ok = ~np.isnan(s)
        np.testing.assert_array_equal(np.asarray(flags[ok], dtype=bool), s[ok] > thr)
    assert fitted.predict(QUERY)[5]  # the far point is OOD at the default fpr


def test_predict_never_calls_an_unscored_input_in_distribution(fitted):
    flags = fitted.predict(QUERY)
    assert flags.isna().tolist() == [False] * 6 + [True]
    assert pd.isna(flags[6])


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, float("nan")])
def test_fpr_checked_once_everywhere(toy_detector_cls, fitted, bad):
    for call in (lambda: fitted.threshold(bad), lambda: fitted.predict(QUERY, fpr=bad),
                 lambda: fitted.decision_function(QUERY, fpr=bad),
                 lambda: toy_detector_cls(fpr=bad).fit(TRAIN)):
        with pytest.raises(ValueError, match=r"fpr must be in \(0, 1\)"):
            call()
