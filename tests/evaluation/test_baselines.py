"""molood.evaluation.baselines: the Morgan-fingerprint Tanimoto nearest-neighbour OOD score."""

from __future__ import annotations

import numpy as np
import pytest

from molood.evaluation.baselines import knn_tanimoto_scores


def test_knn_tanimoto():
    train = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    q = ["OCC", "CC(=O)Nc1ccc(O)cc1C", "C1CCCCCCCCCC1", "[Na+].[Cl-]"]
    s = knn_tanimoto_scores(train, q)
    assert s.dtype == np.float64 and s.shape == (4,)
    assert s[0] == pytest.approx(0.0)                   # same molecule, other spelling
    assert 0 < s[1] < s[2] <= 1.0
    assert np.all((s >= 0) & (s <= 1))
    with pytest.raises(ValueError, match=r"query_smiles\[0\]"):
        knn_tanimoto_scores(train, ["xx"])
