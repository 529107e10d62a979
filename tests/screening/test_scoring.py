"""molood.screening.scoring: fault-tolerant scoring."""

from __future__ import annotations

import numpy as np
import pytest

from molood.screening.scoring import score_inputs


def test_score_inputs_never_raises(tiny_model):
    scores, status = score_inputs(tiny_model, ["CCO", None, "xx", float("nan"), "c1ccccc1"])
    assert [s == "ok" for s in status] == [True, False, False, False, True]
    assert np.isfinite(scores[[0, 4]]).all() and np.isnan(scores[[1, 2, 3]]).all()
    np.testing.assert_array_equal(scores[[0, 4]], tiny_model.score_samples(["CCO", "c1ccccc1"]))


def test_score_inputs_mol_blocks(tiny_model):
    from rdkit import Chem

    blocks = [Chem.MolToMolBlock(Chem.MolFromSmiles(s)) for s in ("CCO", "c1ccccc1")]
    scores, status = score_inputs(tiny_model, blocks + ["garbage", None], kind="molblock")
    assert status[:2] == ["ok", "ok"] and status[2].startswith("sdf_parse_error")
    assert status[3] == "empty"
    np.testing.assert_array_equal(scores[:2], tiny_model.score_samples(["CCO", "c1ccccc1"]))
    with pytest.raises(ValueError, match="input kind"):
        score_inputs(tiny_model, ["CCO"], kind="inchi")
