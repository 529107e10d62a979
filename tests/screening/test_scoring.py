"""molood.screening.scoring: fault-tolerant scoring and the accessor's back end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import molood  # noqa: F401 - registers the accessor
from molood.detectors.calibration import ood_flags
from molood.screening.scoring import score_frame, score_inputs


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


@pytest.mark.parametrize("source", ["file", "memory"])
def test_default_fpr_is_the_models(fpr02_model, fpr02_model_path, freesolv_smiles, source):
    """No fpr given: score_frame and the accessor flag at the model's fpr (0.2), not 0.05."""
    model = fpr02_model_path if source == "file" else fpr02_model
    df = pd.DataFrame({"smiles": freesolv_smiles[100:160] + ["xx"]})
    res = score_frame(df, model=model)
    pd.testing.assert_frame_equal(res, score_frame(df, model=model, fpr=0.2))
    ok = res["molood_status"] == "ok"
    expect = ood_flags(res.loc[ok, "molood_pvalue"].to_numpy(), 0.2)
    np.testing.assert_array_equal(res.loc[ok, "molood_is_ood"].to_numpy(bool), expect)
    assert res["molood_is_ood"].isna().tolist() == (~ok).tolist()
    pd.testing.assert_frame_equal(df.molood.screen(model=model), res)
    pd.testing.assert_series_equal(df.molood.flag(model=model), res["molood_is_ood"])
    at_05 = df.molood.flag(fpr=0.05, model=model)
    assert at_05[ok].sum() < res.loc[ok, "molood_is_ood"].sum()  # 0.2 is not 0.05 here


def test_fpr_is_checked_before_the_model_is_loaded(tmp_path):
    df = pd.DataFrame({"smiles": ["CCO"]})
    with pytest.raises(ValueError, match="fpr"):
        score_frame(df, model=tmp_path / "missing.molood", fpr=1.5)
