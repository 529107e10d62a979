"""Fixtures of the explanation tests.

``toy_molecule_detector``
    A fitted molecular detector without atom-level terms (registered as "toy-heavy-atoms"):
    score = heavy-atom count minus the training mean. What "every registered detector" gets.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def toy_molecule_detector():
    """A fitted molecular detector without atom-level terms (registered as "toy-heavy-atoms"):
    score = heavy-atom count minus the training mean, calibrated on the training molecules."""
    import numpy as np

    from molood.detectors.base import BaseDetector
    from molood.detectors.registry import get_detector_class, register

    def heavy(X):
        from rdkit import Chem

        from molood.detectors.inputs import as_list

        out = []
        for s in as_list(X):
            m = Chem.MolFromSmiles(s) if isinstance(s, str) else s
            out.append(np.nan if m is None else float(m.GetNumHeavyAtoms()))
        return np.array(out)

    try:
        cls = get_detector_class("toy-heavy-atoms")
    except Exception:  # noqa: BLE001 - not registered yet

        @register("toy-heavy-atoms")
        class ToyHeavyAtoms(BaseDetector):
            def __init__(self, *, fpr: float = 0.05) -> None:
                self.fpr = fpr

            def fit(self, X, y=None):
                h = heavy(X)
                self.mean_ = float(np.nanmean(h))
                self._set_calibration(h - self.mean_)
                return self

            def score_samples(self, X):
                return heavy(X) - self.mean_

            def _get_state(self):
                tensors, calibration = self._calibration_state()
                return tensors, {"calibration": calibration, "mean": self.mean_}

            def _set_state(self, manifest, tensors, scoring_only):
                self.mean_ = float(manifest["mean"])
                self._restore_calibration(manifest, tensors)

        cls = ToyHeavyAtoms
    return cls().fit(["CCO", "CCCO", "CCCCO", "c1ccccc1", "CC(=O)O", "CCN"])
