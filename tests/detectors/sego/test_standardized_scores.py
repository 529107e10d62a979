"""Scores of a model with standardisation (every new model) and of one without (the bundled
model, format-1 files): same molecule, same score for the former; exactly the old scores for
the latter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem

from molood.persist import load_model, load_scoring_model, read_manifest

FORMAT1 = Path(__file__).resolve().parents[2] / "data" / "format1_tiny.molood"
DRUGS = ["CC(C)Cc1ccc(cc1)C(C)C(=O)O", "CN1CCC[C@H]1c1cccnc1", "O=C(O)c1ccccc1OC(=O)C",
         "CC(=O)Nc1ccc(O)cc1", "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O", "F/C=C/Cl",
         "C[C@H](N)C(=O)[O-].[Na+]", "c1ccc2[nH]ccc2c1", "ClC(Cl)(Cl)Cl", "CCO"]


def _spellings(smiles: str, seed: int) -> list[str]:
    """``smiles`` written from random atom orders: seeded permutations and RDKit's own
    ``doRandom`` SMILES."""
    mol = Chem.MolFromSmiles(smiles)
    rng = np.random.RandomState(seed)
    out = [smiles, Chem.MolToSmiles(mol, doRandom=True), Chem.MolToSmiles(mol, doRandom=True)]
    for _ in range(3):
        order = rng.permutation(mol.GetNumAtoms()).tolist()
        out.append(Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False))
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(smiles=st.sampled_from(DRUGS), seed=st.integers(0, 2**31 - 1))
def test_any_atom_order_gives_the_same_score(tiny_model, smiles, seed):
    """A new-style model scores the canonical form: every spelling, bit for bit one score
    (SMILES and Mol objects alike)."""
    rows = _spellings(smiles, seed)
    scores = tiny_model.score_samples(rows + [Chem.MolFromSmiles(r) for r in rows])
    assert np.isfinite(scores).all()
    assert (scores == scores[0]).all(), dict(zip(rows, scores))


@pytest.mark.parametrize("a, b", [("[2H]OC([2H])([2H])[2H]", "CO"), ("OCC", "CCO"),
                                  ("[Cl-].[Na+]", "[Na+].[Cl-]"),
                                  ("CC(=O)[O-].[Na+]", "CC(=O)O"),
                                  ("CS(C)=O", "C[S+](C)[O-]")])
def test_standardisation_scores_one_form(tiny_model, tiny_model_path, a, b):
    """CD3OD scores as methanol, a salt as its parent, a spelling as any other; also after
    the model is saved and loaded (the standardisation is frozen into the file)."""
    assert tiny_model.standardize == "default"
    for det in (tiny_model, load_scoring_model(tiny_model_path)):
        sa, sb = det.score_samples([a, b])
        assert sa == sb


def test_the_standardisation_is_read_back_from_the_file(tmp_path, freesolv_smiles):
    from molood.detectors.sego.detector import SEGODetector

    det = SEGODetector(epochs=1, hidden_dim=8, batch_size=8, val_fraction=0.2, verbose=False,
                       standardize={"tautomer": True}, largest_fragment=False)
    det.fit(freesolv_smiles[:30])
    det.save(tmp_path / "m.molood")
    m = read_manifest(tmp_path / "m.molood")
    assert m["featurizer"]["standardize"] == {"isotopes": True, "cleanup": True,
                                             "largest_fragment": False, "neutralize": True,
                                             "tautomer": True}
    assert m["featurizer"]["largest_fragment"] is False
    back = load_model(tmp_path / "m.molood")
    assert back.featurizer_settings() == det.featurizer_settings()
    q = ["Oc1ccccn1", "O=c1cccc[nH]1", "CCO.CC"]
    np.testing.assert_array_equal(back.score_samples(q), det.score_samples(q))
    assert back.score_samples(q[:1]) == back.score_samples(q[1:2])  # one tautomer


def test_models_without_standardisation_score_as_written():
    """The bundled model and format-1 files have no standardisation entry: nothing changes
    for them, so their recorded scores hold (test_persist checks the bits); they cannot score
    the canonical form without changing recorded scores of non-canonical SMILES, so the
    spellings of a molecule may still differ in the last digits there."""
    ref = json.loads(FORMAT1.with_name("format1_tiny_scores.json").read_text())
    det = load_model(FORMAT1)
    assert det.standardize is None and det.featurizer_settings()[0] is None
    assert load_model().standardize == "default"  # the bundled model standardises
    det = load_model(FORMAT1)
    got = det.score(ref["smiles"])
    np.testing.assert_array_equal(got, [np.nan if v is None else v for v in ref["scores"]])


def test_resaving_an_old_model_keeps_it_without_standardisation(tmp_path):
    out = tmp_path / "v2.molood"
    old = load_model(FORMAT1)
    old.save(out)
    assert read_manifest(out)["featurizer"]["standardize"] is None
    q = ["OCC", "CCO", "[2H]OC([2H])([2H])[2H]", "[Na+].[Cl-]"]
    np.testing.assert_array_equal(load_model(out).score_samples(q), old.score_samples(q))
