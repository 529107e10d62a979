"""Fixtures of the screening tests.

``fpr02_model`` / ``fpr02_model_path``
    A SEGO model fitted with a non-default ``fpr=0.2`` (2 epochs on 100 FreeSolv molecules,
    20 calibration scores), in memory and as a file: what screening must flag at when no fpr
    is given.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fpr02_model(freesolv_smiles):
    from molood.detectors.sego.detector import SEGODetector

    det = SEGODetector(epochs=2, fpr=0.2, val_fraction=0.2, seed=0, verbose=False)
    return det.fit(freesolv_smiles[:100])


@pytest.fixture(scope="session")
def fpr02_model_path(tmp_path_factory, fpr02_model):
    path = tmp_path_factory.mktemp("model") / "fpr02.molood"
    fpr02_model.save(path)
    return path
