"""Shared fixtures.

``tiny_model_path`` / ``tiny_model``
    A SEGO model trained for 3 epochs on the first 200 FreeSolv molecules (val_fraction 0.2, so
    40 calibration scores and a finite threshold at fpr 0.05); trained once per session (~3 s).
    Not a good detector, only a fast and real one.
``library_rows``
    ~60 SMILES-table rows: MOSES-like drug molecules, FreeSolv molecules, a salt, invalid and
    empty SMILES and a valence error, in a fixed order, as a list of dicts
    (``id``, ``smiles``, ``value``).
``library_csv``
    Those rows written to ``library.csv`` (session temp dir).
``assert_same_model``
    A function asserting that two fitted detectors would write the same model file: the same
    tensors, bit for bit, and the same manifest entries (training set, calibration, history).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("DGLBACKEND", "pytorch")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"

_EXTRA = [
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",  # ibuprofen
    "CN1CCC[C@H]1c1cccnc1",
    "O=C(O)c1ccccc1OC(=O)C",
    "not_a_smiles",
    "",
    "C1CC",  # unclosed ring
    "[Na+].[Cl-]",
    "N(C)(C)(C)(C)C",  # valence error
    "c1ccc2c(c1)[nH]c1ccccc12",
    "[U]",
    "CCO",
    "CCO",  # a duplicate
]


@pytest.fixture(scope="session")
def freesolv_smiles() -> list[str]:
    return pd.read_csv(DATA / "freesolv.csv")["smiles"].tolist()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory, freesolv_smiles) -> Path:
    from molood.detectors.sego.detector import SEGODetector

    det = SEGODetector(epochs=3, val_fraction=0.2, seed=0, verbose=False)
    det.fit(freesolv_smiles[:200])
    path = tmp_path_factory.mktemp("model") / "tiny.molood"
    det.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path):
    from molood.persist import load_model

    return load_model(tiny_model_path)


@pytest.fixture(scope="session")
def library_rows(freesolv_smiles) -> list[dict]:
    smiles = freesolv_smiles[300:346] + _EXTRA
    return [{"id": f"m{i:03d}", "smiles": s, "value": f"{i * 0.5:.1f}"}
            for i, s in enumerate(smiles)]


@pytest.fixture(scope="session")
def library_csv(tmp_path_factory, library_rows) -> Path:
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    pd.DataFrame(library_rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def toy_detector_cls():
    """A minimal numpy detector on the shared base class: distance of a feature vector to the
    training mean, calibrated on the last 25 % of the training rows. Registered as "toy-mean",
    so model files can hold it without persist knowing it."""
    import numpy as np

    from molood.detectors.base import BaseDetector
    from molood.detectors.registry import get_detector_class, register

    try:
        return get_detector_class("toy-mean")
    except Exception:  # noqa: BLE001 - not registered yet
        pass

    @register("toy-mean")
    class ToyMeanDetector(BaseDetector):
        def __init__(self, *, fpr: float = 0.05, cal_share: float = 0.25) -> None:
            self.fpr = fpr
            self.cal_share = cal_share

        def fit(self, X, y=None):
            X = np.asarray(X, dtype=np.float64)
            n_cal = max(1, int(round(self.cal_share * len(X))))
            self.mean_ = X[:-n_cal].mean(axis=0)
            self._set_calibration(self._distance(X[-n_cal:]))
            return self

        def _distance(self, X):
            return np.linalg.norm(np.asarray(X, dtype=np.float64) - self.mean_, axis=1)

        def score_samples(self, X):
            self._check_is_fitted()
            return self._distance(X)

        def _get_state(self):
            tensors, calibration = self._calibration_state()
            tensors["mean"] = self.mean_
            return tensors, {"calibration": calibration}

        def _set_state(self, manifest, tensors, scoring_only):
            self.mean_ = np.array(tensors["mean"])
            self._restore_calibration(manifest, tensors)

    return ToyMeanDetector


def _assert_same_model(a, b) -> None:
    import numpy as np

    (ta, ma), (tb, mb) = a._get_state(), b._get_state()
    assert ta.keys() == tb.keys()
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)
    assert ma == mb


@pytest.fixture(scope="session")
def assert_same_model():
    return _assert_same_model
