"""molood.screening.scoring: fault-tolerant scoring and the accessor's back end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import molood  # noqa: F401 - registers the accessor
from molood.detectors.calibration import ood_flags
from molood.screening.scoring import score_frame, score_inputs


def test_score_inputs_never_raises(tiny_model):
    scores, status, smiles, _ = score_inputs(tiny_model, ["CCO", None, "xx", float("nan"),
                                                       "c1ccccc1"])
    assert smiles is None  # not asked for
    assert [s == "ok" for s in status] == [True, False, False, False, True]
    assert np.isfinite(scores[[0, 4]]).all() and np.isnan(scores[[1, 2, 3]]).all()
    np.testing.assert_array_equal(scores[[0, 4]], tiny_model.score_samples(["CCO", "c1ccccc1"]))


def test_score_inputs_mol_blocks(tiny_model):
    from rdkit import Chem

    blocks = [Chem.MolToMolBlock(Chem.MolFromSmiles(s)) for s in ("CCO", "c1ccccc1")]
    scores, status, _, _ = score_inputs(tiny_model, blocks + ["garbage", None], kind="molblock")
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


# ------------------------------------------------------------------ max_atoms (the cap)
CHAIN = "C" * 1500


def test_score_inputs_passes_the_cap_and_says_why(tiny_model):
    """Rows above the cap are 'too_large', not a 'score_error' (the featurizer is told the
    cap); None or 0 lifts it, "model" is the detector's."""
    assert tiny_model.max_atoms == 1000
    rows = ["CCO", CHAIN, "C" * 1000]
    _, status, _, _ = score_inputs(tiny_model, rows)
    assert status == ["ok", "too_large: 1500 atoms (max_atoms=1000)", "ok"]
    _, status, _, _ = score_inputs(tiny_model, rows, max_atoms=999)
    assert status[1:] == ["too_large: 1500 atoms (max_atoms=999)",
                          "too_large: 1000 atoms (max_atoms=999)"]
    for no_cap in (None, 0):
        scores, status, _, _ = score_inputs(tiny_model, rows, max_atoms=no_cap)
        assert status == ["ok"] * 3 and np.isfinite(scores).all()
    with pytest.raises(ValueError, match="max_atoms"):
        score_inputs(tiny_model, rows, max_atoms=-1)


# ------------------------------------------------------------------ the SMILES scored
def test_score_inputs_returns_the_standardised_smiles_it_scored(tiny_model):
    rows = ["OCC", "[2H]OC([2H])([2H])[2H]", "CC(=O)[O-].[Na+]", "xx", None]
    scores, _, smiles, _ = score_inputs(tiny_model, rows, smiles=True)
    assert smiles == ["CCO", "CO", "CC(=O)O", None, None]
    np.testing.assert_array_equal(scores[:3], tiny_model.score_samples(["CCO", "CO", "CC(=O)O"]))


def test_models_without_standardisation_report_the_molecule_as_scored():
    """A model from before standardisation (format 1): the row is scored as written; the
    column holds its canonical SMILES."""
    from pathlib import Path

    from molood.screening.models import get_model

    bundled = get_model(Path(__file__).resolve().parents[1] / "data" / "format1_tiny.molood")
    assert bundled.standardize is None
    _, _, smiles, _ = score_inputs(bundled, ["OCC", "[2H]OC([2H])([2H])[2H]", "CCO.[Na+]"],
                                smiles=True)
    assert smiles == ["CCO", "[2H]OC([2H])([2H])[2H]", "CCO.[Na+]"]


def test_score_frame_smiles_column(tiny_model_path):
    df = pd.DataFrame({"smiles": ["OCC", "xx", None]}, index=[7, 7, 3])
    res = score_frame(df, model=tiny_model_path)
    assert list(res.columns) == ["molood_score", "molood_pvalue", "molood_is_ood",
                                 "molood_status", "molood_smiles"]
    assert res["molood_smiles"].tolist() == ["CCO", None, None]
    lean = score_frame(df, model=tiny_model_path, smiles_column=False)
    pd.testing.assert_frame_equal(lean, res.drop(columns="molood_smiles"))
    assert score_frame(df.iloc[:0], model=tiny_model_path)["molood_smiles"].tolist() == []


# ------------------------------------------------------------------ RDKit Mol columns
def _sdf_frame(tmp_path, smiles):
    """A frame as rdkit.Chem.PandasTools.LoadSDF makes it (ROMol column, no SMILES)."""
    from rdkit import Chem
    from rdkit.Chem import PandasTools

    path = tmp_path / "mols.sdf"
    with Chem.SDWriter(str(path)) as w:
        for i, s in enumerate(smiles):
            m = Chem.MolFromSmiles(s)
            m.SetProp("_Name", f"m{i}")
            w.write(m)
    return PandasTools.LoadSDF(str(path))


def test_a_loadsdf_frame_is_scored_from_its_mol_column(tmp_path, tiny_model_path, tiny_model):
    smiles = ["CCO", "c1ccccc1O", "CC(=O)[O-].[Na+]"]
    df = _sdf_frame(tmp_path, smiles)
    assert "ROMol" in df.columns and not any(c.lower() == "smiles" for c in df.columns)
    res = df.molood.screen(model=tiny_model_path)
    assert res["molood_status"].tolist() == ["ok"] * 3
    np.testing.assert_array_equal(res["molood_score"], tiny_model.score_samples(smiles))
    assert res["molood_smiles"].tolist() == ["CCO", "Oc1ccccc1", "CC(=O)O"]
    pd.testing.assert_series_equal(df.molood.score(model=tiny_model_path), res["molood_score"])


def test_mol_columns_found_by_name_or_content_and_mixed_with_smiles(tiny_model_path,
                                                                   tiny_model):
    from rdkit import Chem

    from molood.exceptions import MoloodInputError
    from molood.screening.scoring import input_column

    mols = [None, Chem.MolFromSmiles("CCO"), Chem.MolFromSmiles("c1ccccc1")]
    assert input_column(pd.DataFrame({"id": [1, 2, 3], "Mol": mols})) == "Mol"
    assert input_column(pd.DataFrame({"id": ["a", "b", "c"], "structure": mols})) == "structure"
    both = pd.DataFrame({"ROMol": mols, "SMILES": ["C", "CC", "CCC"]})
    assert input_column(both) == "SMILES"  # a SMILES column comes first
    with pytest.raises(MoloodInputError, match="no SMILES column.*RDKit Mol"):
        input_column(pd.DataFrame({"id": ["a", "b"], "x": [None, 1.0]}))
    mixed = pd.DataFrame({"structure": ["CCO", Chem.MolFromSmiles("c1ccccc1"), None, 3]})
    res = score_frame(mixed, smiles_col="structure", model=tiny_model_path)
    assert res["molood_status"].tolist()[:3] == ["ok", "ok", "empty"]
    assert res["molood_status"][3].startswith("invalid_smiles: not a string")
    np.testing.assert_array_equal(res["molood_score"][:2],
                                  tiny_model.score_samples(["CCO", "c1ccccc1"]))
